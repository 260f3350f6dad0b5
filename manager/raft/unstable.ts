/**
 * The part of the log that is not yet persisted: entries appended since the last `Ready`, and
 * a snapshot received from the leader. `offset` is the index of `entries[0]`.
 */
import type { Entry, Snapshot } from "../../proto/gen/raft.ts";

/** Entries and snapshot the application has not yet been told to persist, or has not confirmed. */
export class Unstable {
  /** A snapshot received from the leader, to be persisted. */
  snapshot: Snapshot | undefined;
  /** Entries after the stable part of the log. */
  entries: Entry[] = [];
  /** Index of `entries[0]` (or where it will be). */
  offset: number;

  /** Starts empty, with the next entry expected at `offset`. */
  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index if a snapshot is pending (snapshot index + 1). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata!.index + 1 : undefined;
  }

  /** The last index held here, if any. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata!.index : undefined;
  }

  /** Term of the entry at `i` if this part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata!.index === i) return this.snapshot.metadata!.term;
      return undefined;
    }
    const e = this.entries[i - this.offset];
    return e ? e.term : undefined;
  }

  /** The entries up to `(index, term)` are now persisted: drop them from here. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    // Only when the entry is still the one persisted: a newer leader may have replaced it since.
    if (t === term && index >= this.offset) {
      this.entries = this.entries.slice(index + 1 - this.offset);
      this.offset = index + 1;
    }
  }

  /** The snapshot at `index` is now persisted. */
  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.metadata!.index === index) this.snapshot = undefined;
  }

  /** Replaces everything with a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.offset = s.metadata!.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends entries, truncating any held entries from the first new index on. */
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces everything held here; the stable log below is truncated by the caller's storage.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset);
      for (const e of ents) this.entries.push(e);
    }
  }

  /** Entries in [lo, hi), which must be held here. */
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
