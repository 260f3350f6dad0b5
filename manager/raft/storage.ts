/**
 * The read-only view of durable Raft state the core needs (`Storage`), and `MemoryStorage`,
 * an in-memory implementation that the application writes as `Ready` tells it to.
 *
 * The log is kept as an array whose first element is a dummy entry standing for the last entry
 * folded into the snapshot (its index and term), as etcd-io/raft does: so `term(snapshotIndex)`
 * stays answerable after compaction.
 */
import type { ConfState, Entry, HardState, Snapshot } from "../../proto/gen/raft.ts";
import { EntryType } from "../../proto/gen/raft.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { copyBytes } from "../byte-slab.ts";

/** Hard state and membership a node restarts from. */
export interface InitialState {
  /** Term, vote and commit as last persisted. */
  hardState: HardState;
  /** Membership as of the latest snapshot. */
  confState: ConfState;
}

/** What the core reads of durable state. Every method is synchronous and has no side effect. */
export interface Storage {
  /** The persisted hard state and the membership of the latest snapshot. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), stopping once their total size would pass `maxSize` (at least one
   * entry is returned when the range is not empty). Throws COMPACTED below `firstIndex()` and
   * UNAVAILABLE beyond `lastIndex()`.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** Term of the entry at `index`, `undefined` when it is compacted away or not there yet. */
  term(index: number): number | undefined;
  /** Index of the first entry that is still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** The latest snapshot. */
  snapshot(): Snapshot;
}

/** Bytes an entry counts for in size limits: its data plus a fixed overhead for the header. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}
/** Approximate wire size of an entry's term, index and type; keeps empty entries from being free. */
const ENTRY_OVERHEAD_BYTES = 16;

/** Returns the prefix of `ents` whose total size stays within `maxSize` (always at least one). */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** An empty snapshot: index 0, no members. */
export function emptySnapshot(): Snapshot {
  return { data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
}

/** In-memory Storage. The application appends what each `Ready` says to persist. */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is the dummy entry at the snapshot's index and term. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: new Uint8Array() }];

  /** {@inheritDoc Storage.initialState} */
  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata!.confState! };
  }

  /** Records the hard state (term, vote, commit). */
  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** {@inheritDoc Storage.entries} */
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new RaftError(RaftErrorCode.COMPACTED, `entry ${lo} is compacted (log starts at ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(RaftErrorCode.UNAVAILABLE, `entries up to ${hi - 1} asked, log ends at ${this.lastIndex()}`);
    }
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  /** {@inheritDoc Storage.term} */
  term(index: number): number | undefined {
    const offset = this.ents[0]!.index;
    if (index < offset) return undefined;
    return this.ents[index - offset]?.term;
  }

  /** {@inheritDoc Storage.firstIndex} */
  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  /** {@inheritDoc Storage.lastIndex} */
  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  /** {@inheritDoc Storage.snapshot} */
  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole state with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    const meta = snap.metadata!;
    if (this.snap.metadata!.index >= meta.index) {
      throw new RaftError(RaftErrorCode.SNAPSHOT_OUT_OF_DATE, `snapshot at ${meta.index} is not newer than ${this.snap.metadata!.index}`);
    }
    this.snap = snap;
    this.ents = [{ term: meta.term, index: meta.index, type: EntryType.ENTRY_NORMAL, data: new Uint8Array() }];
  }

  /**
   * Makes a snapshot of the application state at `index` (which must be applied, hence in the
   * log) and keeps it as the latest. Does not compact: call `compact` for that.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata!.index) {
      throw new RaftError(RaftErrorCode.SNAPSHOT_OUT_OF_DATE, `snapshot at ${index} is not newer than ${this.snap.metadata!.index}`);
    }
    const term = this.term(index);
    if (term === undefined) throw new RaftError(RaftErrorCode.UNAVAILABLE, `cannot snapshot at ${index}: not in the log (last ${this.lastIndex()})`);
    this.snap = { data, metadata: { index, term, confState: { voters: [...confState.voters], learners: [...confState.learners] } } };
    return this.snap;
  }

  /** Drops every entry before `compactIndex`; that entry becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) return;
    if (compactIndex > this.lastIndex()) {
      throw new RaftError(RaftErrorCode.UNAVAILABLE, `cannot compact to ${compactIndex}: log ends at ${this.lastIndex()}`);
    }
    const i = compactIndex - offset;
    const dummy = { term: this.ents[i]!.term, index: compactIndex, type: EntryType.ENTRY_NORMAL, data: new Uint8Array() };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any existing entries from the first new index on. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // everything is already compacted
    // Skip the entries already covered by the snapshot.
    const ents = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = ents[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new RaftError(RaftErrorCode.UNAVAILABLE, `missing log entries: last ${this.lastIndex()}, appending at ${ents[0]!.index}`);
    }
    if (offset < this.ents.length) this.ents.length = offset;
    // Kept until compaction: their bytes go where V8 does not count them (byte-slab.ts).
    for (const e of ents) this.ents.push(e.data.byteLength === 0 ? e : { ...e, data: copyBytes(e.data) });
  }
}
