/**
 * The window of appends a leader has sent to one follower and not yet seen acknowledged. It is
 * bounded both in messages and in bytes: that bound is the flow control of log replication.
 */

/** A FIFO of (last index, bytes) of in-flight append messages, bounded by count and size. */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  /** `maxCount` messages and `maxBytes` bytes at most (0 bytes = no byte limit). */
  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  /** Number of messages in flight. */
  get count(): number {
    return this.indexes.length - this.head;
  }

  /** Bytes of entries in flight. */
  get inflightBytes(): number {
    return this.bytes;
  }

  /** Records an append whose last entry is `index`, carrying `bytes` of entries. */
  add(index: number, bytes: number): void {
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (they are acknowledged). */
  freeLE(to: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head]! <= to) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    // Reclaim the consumed prefix now and then, so the arrays do not grow forever.
    if (this.head > 64 && this.head * 2 > this.indexes.length) {
      this.indexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Frees the oldest message in flight (used when it may have been lost). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.head]!);
  }

  /** Whether no more messages may be sent. */
  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  /** Forgets everything in flight. */
  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
