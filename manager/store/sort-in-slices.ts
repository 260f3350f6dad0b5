/**
 * Background work in slices, for snapshots of large stores: a clock that cuts the work into
 * slices of about 2 ms with a pause after each, and a merge sort cut into such slices (sorting
 * 50,000 objects at once held a manager for 70 ms).
 */

/**
 * The share of the manager's thread a piece of background work takes: a slice of `w` ms of
 * work is followed by a pause of `w * (1 - SHARE) / SHARE` ms (38 ms after 2 ms), so a
 * snapshot takes about twenty times its CPU time. Every write waits for the leader's event
 * loop, and on a host whose cores the managers share (the lab, `npm run bench:raft`, managers
 * that also run tasks) for the followers' too: at a third (4 ms of pause after 2 ms, until
 * 2026-12-07) the writes made during snapshots were 2 to 4.5 times as often among their level's
 * slowest 1% as their number predicts, at a twentieth 0.8 to 1.8 times (test/bench/HISTORY.md,
 * with the variants measured). Done at full speed on every manager at once, snapshots held all
 * the writes up.
 */
const SHARE = 1 / 20;

/** Milliseconds of work in one slice. */
const SLICE_MS = 2;

/** Steps of work between two readings of the clock: a step is a µs or less, reading the clock a few dozen ns. */
const STEPS_PER_CLOCK_READING = 64;

/** Items in each run the merge sort starts from, sorted in one go. */
const RUN_LENGTH = 512;

/**
 * The clock of one piece of background work: the work calls {@link due} after each small step
 * and {@link pause} when it says so. Slices are measured in time, not in steps: with a fixed
 * count of steps, a slice of cheap steps (a merge's comparisons) was a few dozen µs of work
 * followed by the same fixed pause, and the snapshot of 100,000 objects spent nine of its ten
 * seconds waiting for 1.1 s of work. Now each pause follows from the work before it, so the
 * work gets its share of the time, no more and no less (see {@link SHARE}).
 */
export class Slices {
  /** Pauses taken so far. */
  pauses = 0;
  private sliceStart: number;
  private steps = 0;

  /** `clock` gives milliseconds (default: `performance.now`). */
  constructor(private readonly clock: () => number = () => performance.now()) {
    this.sliceStart = clock();
  }

  /** Counts `steps` steps of work done and says whether the slice has had its time. */
  due(steps = 1): boolean {
    this.steps += steps;
    if (this.steps < STEPS_PER_CLOCK_READING) return false;
    this.steps = 0;
    return this.clock() - this.sliceStart >= SLICE_MS;
  }

  /** The pause after a slice, in proportion to its work (see {@link SHARE}); the next slice's time starts when it ends. */
  async pause(): Promise<void> {
    this.pauses++;
    const worked = this.clock() - this.sliceStart;
    await new Promise((resolve) => setTimeout(resolve, (worked * (1 - SHARE)) / SHARE));
    this.sliceStart = this.clock();
    this.steps = 0;
  }
}

/**
 * `items` sorted by `key` (ascending; keys should be unique, as equal keys keep no particular
 * order), computed in the slices of `slices`. `items` is not changed. `runLength` (for tests)
 * is the length of the runs sorted in one go before the merges.
 *
 * A bottom-up merge sort between two arrays of the items' length: the sort of a large store
 * spans seconds, so whatever it allocates outlives the young collections and is moved to the
 * old generation; one array per merge pass (as a sort that allocates its merged runs does) is
 * many times the garbage.
 */
export async function sortInSlices<T>(items: readonly T[], key: (item: T) => string, slices: Slices, runLength = RUN_LENGTH): Promise<T[]> {
  const n = items.length;
  let from = items.slice();
  for (let i = 0; i < n; i += runLength) {
    const run = from.slice(i, i + runLength).sort((a, b) => compareKeys(key(a), key(b)));
    for (let j = 0; j < run.length; j++) from[i + j] = run[j]!;
    if (slices.due(run.length)) await slices.pause();
  }
  let to = new Array<T>(n);
  for (let width = runLength; width < n; width *= 2) {
    // Merges each pair of neighbouring runs of `width` from `from` into `to`.
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        to[k] = j >= hi || (i < mid && key(from[i]!) <= key(from[j]!)) ? from[i++]! : from[j++]!;
        if (slices.due()) await slices.pause();
      }
    }
    [from, to] = [to, from];
  }
  return from;
}

/** The order of two keys (as strings compare), for `Array.prototype.sort`. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
