/**
 * What the store tells its users about writes: typed changes (one per object written),
 * grouped into transactions by a `commit` marker, and a `restored` marker after a snapshot
 * replaced the state. These are what `update()` resolves with and what watchers receive.
 */
import type { StoreError } from "./errors.ts";
import type { ObjectOf, Stored, TableName } from "./tables.ts";

/** One object written by a committed transaction (or by a restore), typed by its table. */
export type Change<N extends TableName = TableName> = {
  [T in N]:
    | { readonly kind: "create"; readonly table: T; readonly object: ObjectOf<T> }
    | { readonly kind: "update"; readonly table: T; readonly object: ObjectOf<T>; readonly old: ObjectOf<T> }
    | { readonly kind: "delete"; readonly table: T; readonly object: ObjectOf<T> };
}[N];

/** The kind of a change. */
export type ChangeKind = Change["kind"];

/** Ends the changes of one committed transaction. */
export interface CommitEvent {
  /** Always `"commit"`. */
  readonly kind: "commit";
  /** The Raft index of the transaction: the `meta.version` of every object it wrote. */
  readonly index: number;
}

/**
 * Ends the changes a restore made: the state was replaced by a snapshot taken at `index`, and
 * the changes before this marker turned the old state into it (as one transaction would).
 */
export interface RestoredEvent {
  /** Always `"restored"`. */
  readonly kind: "restored";
  /** The Raft index the snapshot was taken at. */
  readonly index: number;
}

/** What a watcher receives. */
export type StoreEvent<N extends TableName = TableName> = Change<N> | CommitEvent | RestoredEvent;

/** Which changes a watcher wants. A `commit` marker comes only after a transaction with a change the filter let through. */
export interface WatchFilter<N extends TableName = TableName> {
  /** Only changes to these tables (default: all). */
  readonly tables?: readonly N[];
  /** Only changes that pass this test (default: all), e.g. tasks of one node. */
  readonly where?: (change: Change<N>) => boolean;
}

/** A committed transaction, as `update()` resolves with it. */
export interface Committed {
  /** The Raft index it was committed at (for a transaction that wrote nothing: the index applied when it ran). */
  readonly index: number;
  /** The objects it wrote, as stored (with their new `meta`), in the order they were staged. */
  readonly changes: readonly Change[];
}

/** What `apply()` returns for an entry, and so what the proposer resolves with: it committed, or it was refused. */
export type ApplyResult =
  | { readonly ok: true; readonly committed: Committed }
  | { readonly ok: false; readonly error: StoreError };

/** A change seen through the common {@link Stored} shape the store's machinery uses. */
export interface AnyChange {
  /** What happened to the object. */
  readonly kind: ChangeKind;
  /** Its table. */
  readonly table: TableName;
  /** The object as written; for a delete, as it was. */
  readonly object: Stored;
  /** For an update: the object before. */
  readonly old?: Stored;
}

/** Views machinery changes as the typed union. Sound because a change's object always comes from its own table. */
export function typed(changes: readonly AnyChange[]): readonly Change[] {
  return changes as readonly Change[];
}
