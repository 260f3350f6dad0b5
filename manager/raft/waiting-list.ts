/**
 * Items waiting for something, keyed by consecutive numbers (a counter that wraps at 2^32), that
 * leave in any order: a manager's proposals waiting for their entries to be applied.
 *
 * Why not a Map: a Map that keeps taking and dropping entries rebuilds its hash table every few
 * hundred operations, and V8 leaves the old table holding everything it held. Once such a table
 * is in the old generation, every item it held stays alive through the young collections until
 * the next full collection, so each item, and all it references (here a client call with its
 * HTTP/2 stream), is moved to the old generation instead of dying young. With a Map, a leader
 * under load moved several KB per write to the old generation and paused for full collections
 * every few seconds. Here an item's slot is cleared when it leaves, and nothing else holds it.
 */

/** Items by consecutive keys, in a ring of slots that grows when the oldest and newest keys are too far apart. */
export class WaitingList<T> {
  private keys: number[] = new Array<number>(16).fill(0);
  private values: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  /** The oldest key that may still be held (when `count` > 0). */
  private oldest = 0;
  /** The key added last. */
  private newest = 0;
  private count = 0;

  /** How many items are waiting. */
  get size(): number {
    return this.count;
  }

  /** Adds `value` under `key`, which must follow the key added before (modulo 2^32). */
  add(key: number, value: T): void {
    if (this.count === 0) this.oldest = key;
    else if (key !== ((this.newest + 1) >>> 0)) throw new Error(`waiting list: key ${key} does not follow ${this.newest}`);
    this.newest = key;
    // Keys from `oldest` to `key` must map to distinct slots.
    while (((key - this.oldest) >>> 0) >= this.keys.length) this.grow();
    const slot = key & (this.keys.length - 1);
    this.keys[slot] = key;
    this.values[slot] = value;
    this.count++;
  }

  /** Removes and returns the item under `key`, or undefined when none is waiting there. */
  take(key: number): T | undefined {
    if (this.count === 0 || ((key - this.oldest) >>> 0) > ((this.newest - this.oldest) >>> 0)) return undefined;
    const slot = key & (this.keys.length - 1);
    const value = this.values[slot];
    if (value === undefined || this.keys[slot] !== key) return undefined;
    this.values[slot] = undefined;
    this.count--;
    // The oldest key moves up past the slots already emptied (never past the newest).
    while (this.count > 0 && this.oldest !== this.newest && this.values[this.oldest & (this.keys.length - 1)] === undefined) {
      this.oldest = (this.oldest + 1) >>> 0;
    }
    return value;
  }

  /** The items waiting, oldest key first. */
  *entries(): IterableIterator<[number, T]> {
    const span = this.count === 0 ? 0 : ((this.newest - this.oldest) >>> 0) + 1;
    const first = this.oldest;
    for (let i = 0; i < span; i++) {
      const key = (first + i) >>> 0;
      const slot = key & (this.keys.length - 1);
      const value = this.values[slot];
      if (value !== undefined && this.keys[slot] === key) yield [key, value];
    }
  }

  /** Doubles the ring, moving every item to its slot in the larger one. */
  private grow(): void {
    const keys = new Array<number>(this.keys.length * 2).fill(0);
    const values = new Array<T | undefined>(this.keys.length * 2).fill(undefined);
    for (const [key, value] of this.entries()) {
      const slot = key & (keys.length - 1);
      keys[slot] = key;
      values[slot] = value;
    }
    this.keys = keys;
    this.values = values;
  }
}
