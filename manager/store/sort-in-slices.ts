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
 */
export async function sortInSlices<T>(items: readonly T[], key: (item: T) => string, sliceSize: number): Promise<T[]> {
  const byKey = (a: T, b: T): number => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
  // Runs of `sliceSize` items, each sorted in one slice, then merged two by two.
  let runs: T[][] = [];
  for (let i = 0; i < items.length; i += sliceSize) {
    if (i > 0) await pauseBetweenSlices();
    runs.push(items.slice(i, i + sliceSize).sort(byKey));
  }
  let steps = 0;
  while (runs.length > 1) {
    const merged: T[][] = [];
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const a = runs[r]!;
      const b = runs[r + 1]!;
      const out: T[] = [];
      let i = 0;
      let j = 0;
      while (i < a.length || j < b.length) {
        out.push(j >= b.length || (i < a.length && key(a[i]!) <= key(b[j]!)) ? a[i++]! : b[j++]!);
        if (++steps % sliceSize === 0) await pauseBetweenSlices();
      }
      merged.push(out);
    }
    if (runs.length % 2 === 1) merged.push(runs[runs.length - 1]!);
    runs = merged;
  }
  return runs[0] ?? [];
}
