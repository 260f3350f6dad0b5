/**
 * The Raft log as the core sees it: the stable part in `Storage` followed by the unstable part,
 * with the commit and applied indexes. Every rule about appending, conflicts and commitment that
 * touches the log lives here.
 */
import type { Entry, Snapshot } from "../../proto/gen/raft.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { limitSize } from "./storage.ts";
import type { Storage } from "./storage.ts";
import { Unstable } from "./unstable.ts";

/** The log: stable storage, then unstable entries; and how far it is committed and applied. */
export class RaftLog {
  /** Persisted entries and snapshot. */
  readonly storage: Storage;
  /** Entries and snapshot not yet persisted. */
  readonly unstable: Unstable;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index the application has applied. Always <= committed. */
  applied: number;

  /** Opens the log over `storage`, which may hold state from before a restart. */
  constructor(storage: Storage) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /** Index of the first entry still in the log. */
  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  /** Index of the last entry. */
  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Index of the last entry that is persisted (the unstable entries and snapshot are not). */
  stableLastIndex(): number {
    if (this.unstable.snapshot) return this.storage.lastIndex();
    return Math.min(this.lastIndex(), this.unstable.offset - 1);
  }

  /** Term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `i`; `undefined` when compacted or beyond the end. */
  term(i: number): number | undefined {
    // The valid range is [index of the dummy entry, last index].
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** Whether the entry at `i` has term `t`. */
  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * A candidate's log is at least as up to date as ours when its last term is higher, or equal
   * with a last index at least ours (§5.4.1).
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Handles an append from the leader: entries follow the entry (index, logTerm). Returns the
   * index of the last new entry, or `undefined` when our log does not contain (index, logTerm).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(`raft: entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Appends entries after (possibly replacing) the tail of the log; returns the last index. */
  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) throw new Error(`raft: append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of `ents` that is not in our log or has another term; 0 when
   * every entry is already here.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The last index <= `index` whose term is <= `term`, with that term: where a leader that has
   * `term` at `index` can resume probing, skipping whole terms at once (§5.3, fast backtracking).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; ; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
  }

  /** Entries that are not yet persisted. */
  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries the application has not applied, within `maxSize` bytes. */
  nextCommittedEntries(maxSize: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, maxSize);
  }

  /** Whether there are committed entries not yet applied. */
  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** The snapshot to hand to a lagging follower: the unstable one if any, else the stored one. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from `i` on, within `maxSize`. Throws COMPACTED when `i` is below the log. */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Entries in [lo, hi) from storage then unstable, within `maxSize`. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo < this.firstIndex()) {
      throw new RaftError(RaftErrorCode.COMPACTED, `entry ${lo} is compacted (log starts at ${this.firstIndex()})`);
    }
    if (hi > this.lastIndex() + 1) {
      throw new RaftError(RaftErrorCode.UNAVAILABLE, `slice [${lo}, ${hi}) is beyond the last index ${this.lastIndex()}`);
    }
    if (lo === hi) return [];
    const uOffset = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < uOffset) {
      ents = this.storage.entries(lo, Math.min(hi, uOffset), maxSize);
      // Storage stopped early because of the size limit: do not add unstable entries after a gap.
      if (ents.length < Math.min(hi, uOffset) - lo) return ents;
    }
    if (hi > uOffset) {
      const unstable = this.unstable.slice(Math.max(lo, uOffset), hi);
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return limitSize(ents, maxSize);
  }

  /** Raises the commit index to `to` (never lowers it). */
  commitTo(to: number): void {
    if (this.committed < to) {
      if (this.lastIndex() < to) {
        throw new Error(`raft: commit ${to} is out of range [last index ${this.lastIndex()}]; was the log lost?`);
      }
      this.committed = to;
    }
  }

  /** Records that the application applied everything up to `i`. */
  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new Error(`raft: applied ${i} is out of range [applied ${this.applied}, committed ${this.committed}]`);
    }
    this.applied = i;
  }

  /** The entries up to `(i, t)` were persisted. */
  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  /** The snapshot at `i` was persisted. */
  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /**
   * The leader's commit rule (§5.4.2): advance the commit index to `maxIndex` only when the entry
   * there is of the current term. Entries of earlier terms commit only indirectly.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Replaces the log with a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.committed = s.metadata!.index;
    this.unstable.restore(s);
  }
}
