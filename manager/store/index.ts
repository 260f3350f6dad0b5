/**
 * The replicated object store (DESIGN.md): typed tables with indexes, read through
 * `view(tx => ...)`, written through `update(tx => ...)` as one Raft proposal per transaction,
 * watched through subscriptions, snapshotted whole. A {@link MemoryStore} is the
 * `StateMachine<ApplyResult>` its manager's Raft node drives (manager/raft/state-machine.ts).
 */
export { MemoryStore } from "./memory-store.ts";
export type { MemoryStoreOptions, ViewAndWatch } from "./memory-store.ts";
export type { ReadTx, WriteTx } from "./tx.ts";
export type { ApplyResult, Change, ChangeKind, CommitEvent, Committed, RestoredEvent, StoreEvent, WatchFilter } from "./events.ts";
export type { Subscription } from "./watch.ts";
export { WATCH_QUEUE_LIMIT } from "./watch.ts";
export { StoreError, StoreErrorCode } from "./errors.ts";
export { TABLES, TABLE_NAMES } from "./tables.ts";
export type { IndexDef, IndexKey, IndexKeyOf, IndexName, ObjectOf, Stored, TableDef, TableName } from "./tables.ts";
