/**
 * A binary min-heap of small integers (node indices or branch ids) ordered by a caller's
 * comparison, which reads the items' current keys from its own arrays. It only supports
 * what batch placement needs: take the best item, then either drop it or, after its key
 * grew, let it sink to its new place. Nothing is allocated after construction.
 */

/** Orders two items: true when `a` comes before `b`. Must be a strict total order. */
export type Before = (a: number, b: number) => boolean;

/** A min-heap of integers under a {@link Before} order. */
export class IndexHeap {
  private size: number;

  /** Takes ownership of `items` and arranges them into a heap in linear time. */
  constructor(private readonly items: Int32Array, private readonly before: Before) {
    this.size = items.length;
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.sink(i);
  }

  /** True when no item is left. */
  get empty(): boolean {
    return this.size === 0;
  }

  /** The best item; -1 when empty. */
  top(): number {
    return this.size > 0 ? this.items[0]! : -1;
  }

  /** Removes the best item. */
  pop(): void {
    if (this.size === 0) return;
    this.size--;
    this.items[0] = this.items[this.size]!;
    this.sink(0);
  }

  /** Restores the order after the best item's key grew. */
  topGrew(): void {
    this.sink(0);
  }

  private sink(at: number): void {
    const { items, before, size } = this;
    const item = items[at]!;
    let i = at;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && before(items[right]!, items[left]!) ? right : left;
      if (!before(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
