/**
 * A Map from HTTP/2 stream id to stream that does not keep closed streams alive.
 *
 * A Map that churns (one entry added and one deleted per call) rebuilds its hash table every few
 * hundred calls, and V8 leaves the old table holding every entry it held. Once such a table is in
 * the old generation, the entries it held stay alive through the young collections until the
 * next full collection: every call's objects would be moved to the old generation instead of
 * dying young. Used for Node's HTTP/2 sessions (deploy/daemon/http2-stream-table.ts) and by the
 * control API's own server (connection.ts).
 */
/** Slots at first; the ring doubles when half full. */
const INITIAL_SLOTS = 64;

/**
 * The table (see the file comment): a ring of slots indexed by id (ids only grow within a
 * session), and a small Map for the few long-lived entries whose slot a much newer stream needs.
 * Iteration is in no particular order.
 */
export class StreamTable<V> extends Map<number, V> {
  private slotIds: number[] = new Array<number>(INITIAL_SLOTS).fill(-1);
  private slotValues: (V | undefined)[] = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined);
  private inRing = 0;
  /** Entries displaced from the ring by newer ids: long-lived streams, so few and seldom changed. */
  private readonly displaced = new Map<number, V>();

  /** {@inheritDoc Map.size} */
  override get size(): number {
    return this.inRing + this.displaced.size;
  }

  /** {@inheritDoc Map.get} */
  override get(id: number): V | undefined {
    const slot = id & (this.slotIds.length - 1);
    return this.slotIds[slot] === id ? this.slotValues[slot] : this.displaced.get(id);
  }

  /** {@inheritDoc Map.has} */
  override has(id: number): boolean {
    return this.slotIds[id & (this.slotIds.length - 1)] === id || this.displaced.has(id);
  }

  /** {@inheritDoc Map.set} */
  override set(id: number, value: V): this {
    if (!Number.isInteger(id) || id < 0) throw new TypeError(`stream table: ${id} is not a stream id`);
    if (this.displaced.has(id)) {
      this.displaced.set(id, value);
      return this;
    }
    if (this.inRing + 1 > this.slotIds.length / 2) this.grow();
    const slot = id & (this.slotIds.length - 1);
    const holder = this.slotIds[slot]!;
    if (holder === -1) this.inRing++;
    else if (holder !== id) this.displaced.set(holder, this.slotValues[slot]!);
    this.slotIds[slot] = id;
    this.slotValues[slot] = value;
    return this;
  }

  /** {@inheritDoc Map.delete} */
  override delete(id: number): boolean {
    const slot = id & (this.slotIds.length - 1);
    if (this.slotIds[slot] !== id) return this.displaced.delete(id);
    this.slotIds[slot] = -1;
    this.slotValues[slot] = undefined;
    this.inRing--;
    return true;
  }

  /** {@inheritDoc Map.clear} */
  override clear(): void {
    this.slotIds.fill(-1);
    this.slotValues.fill(undefined);
    this.inRing = 0;
    this.displaced.clear();
  }

  /** {@inheritDoc Map.entries} */
  override *entries(): MapIterator<[number, V]> {
    // Copies first: callers may delete while they iterate (closing every stream does).
    yield* this.ringEntries();
    yield* [...this.displaced];
  }

  /** {@inheritDoc Map.keys} */
  override *keys(): MapIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  /** {@inheritDoc Map.values} */
  override *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  /** {@inheritDoc Map.forEach} */
  override forEach(fn: (value: V, id: number, map: Map<number, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) fn.call(thisArg, value, id, this);
  }

  override [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  /** The entries in the ring, in slot order, copied out. */
  private ringEntries(): [number, V][] {
    const entries: [number, V][] = [];
    for (let slot = 0; slot < this.slotIds.length; slot++) if (this.slotIds[slot] !== -1) entries.push([this.slotIds[slot]!, this.slotValues[slot]!]);
    return entries;
  }

  /** Doubles the ring and puts every entry back (ids in distinct slots stay in distinct slots of a ring twice as large). */
  private grow(): void {
    const entries = this.ringEntries();
    this.slotIds = new Array<number>(this.slotIds.length * 2).fill(-1);
    this.slotValues = new Array<V | undefined>(this.slotIds.length).fill(undefined);
    this.inRing = 0;
    for (const [id, value] of entries) this.set(id, value);
  }
}
