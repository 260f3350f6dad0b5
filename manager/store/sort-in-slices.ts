/**
 * Background work in slices, for snapshots of large stores: a pause between slices, and a merge
 * sort cut into slices (sorting 50,000 objects at once held a manager for 70 ms).
 */

/**
 * Milliseconds between two slices of background work. A slice is a millisecond or two, so the
 * work takes at most about a third of the time, and the manager's other work (answering
 * writes) is not crowded out: a snapshot spread this way takes longer, but the writes around it
 * hardly notice it, where one done at full speed on every manager at once held them all up.
 */
const PAUSE_BETWEEN_SLICES_MS = 4;

/** Resolves after the pause between two slices of background work. */
export function pauseBetweenSlices(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PAUSE_BETWEEN_SLICES_MS));
}

/**
 * `items` sorted by `key` (ascending; keys should be unique, as equal keys keep no particular
 * order), computed about `sliceSize` comparisons or items at a time. `items` is not changed.
 *
 * A bottom-up merge sort between two arrays of the items' length: the sort of a large store
 * spans seconds, so whatever it allocates outlives the young collections and is moved to the
 * old generation; one array per merge pass (as a sort that allocates its merged runs does) is
 * many times the garbage.
 */
export async function sortInSlices<T>(items: readonly T[], key: (item: T) => string, sliceSize: number): Promise<T[]> {
  const n = items.length;
  let from = items.slice();
  // Runs of `sliceSize` items, each sorted in one slice.
  for (let i = 0; i < n; i += sliceSize) {
    if (i > 0) await pauseBetweenSlices();
    const run = from.slice(i, i + sliceSize).sort((a, b) => compareKeys(key(a), key(b)));
    for (let j = 0; j < run.length; j++) from[i + j] = run[j]!;
  }
  let to = new Array<T>(n);
  let steps = 0;
  for (let width = sliceSize; width < n; width *= 2) {
    // Merges each pair of neighbouring runs of `width` from `from` into `to`.
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        to[k] = j >= hi || (i < mid && key(from[i]!) <= key(from[j]!)) ? from[i++]! : from[j++]!;
        if (++steps % sliceSize === 0) await pauseBetweenSlices();
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
