/**
 * The replicated object store: typed tables read through `view`, written through `update`,
 * whose staged writes become one Raft proposal; the Raft node applies committed entries
 * through the {@link StateMachine} methods, on every manager in the same order, and the store
 * publishes each applied transaction to its watchers.
 *
 * Nothing is locked across a Raft round trip: many `update`s may be in flight at once, and
 * the entry applied later loses when both wrote the same object from the same version.
 */
import type { Proposer, StateMachine } from "../raft/state-machine.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import { typed } from "./events.ts";
import type { AnyChange, ApplyResult, Committed, WatchFilter } from "./events.ts";
import { applyTransaction } from "./apply.ts";
import { decodeSnapshot, diffTables, encodeSnapshot, encodeSnapshotInSlices } from "./snapshot.ts";
import { Tables } from "./table.ts";
import type { TableName } from "./tables.ts";
import { ReadTx, TxScope, WriteTx } from "./tx.ts";
import { WATCH_QUEUE_LIMIT, Watchers } from "./watch.ts";
import type { Subscription } from "./watch.ts";
import { encodeTransaction } from "./wire.ts";

/** How a store is made. */
export interface MemoryStoreOptions {
  /**
   * Gets transactions into the Raft log; resolves with what {@link MemoryStore.apply} returned
   * for the entry on this manager. When the Raft node is made after the store, pass
   * `{ propose: (data, signal) => node.propose(data, signal) }`.
   */
  readonly proposer: Proposer<ApplyResult>;
  /** Milliseconds since the epoch, read once per transaction by the proposing manager (default `Date.now`). */
  readonly clock?: () => number;
  /** Events a watcher may hold unconsumed before it is closed (default {@link WATCH_QUEUE_LIMIT}). */
  readonly watchQueueLimit?: number;
}

/** A read snapshot and a subscription taken at the same instant. */
export interface ViewAndWatch<T, N extends TableName> {
  /** What the read callback returned. */
  readonly result: T;
  /** Every change applied after that read, and none before. */
  readonly subscription: Subscription<N>;
}

/** The store of one manager. It is the {@link StateMachine} its Raft node drives, with `R` = {@link ApplyResult}. */
export class MemoryStore implements StateMachine<ApplyResult> {
  private tables = new Tables();
  private applied = 0;
  private readonly proposer: Proposer<ApplyResult>;
  private readonly clock: () => number;
  private readonly watchers: Watchers;

  /** Makes an empty store. */
  constructor(options: MemoryStoreOptions) {
    this.proposer = options.proposer;
    this.clock = options.clock ?? Date.now;
    this.watchers = new Watchers(options.watchQueueLimit ?? WATCH_QUEUE_LIMIT);
  }

  /** The Raft index of the last entry applied (or snapshot restored); 0 when none. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Runs `read` over the applied state, which does not change while it runs. The transaction is valid only during the call. */
  view<T>(read: (tx: ReadTx) => T): T {
    const scope = new TxScope();
    try {
      return read(new ReadTx(this.tables, scope));
    } finally {
      scope.open = false;
    }
  }

  /**
   * Runs `write` (synchronously) to read and stage writes, then proposes them as one
   * transaction. Resolves once it is committed and applied here, with the objects as stored;
   * rejects with a {@link StoreError} (CONFLICT, NOT_FOUND, ALREADY_EXISTS, INVALID) when a
   * write is refused, at staging or when applied, or with the proposer's error when Raft
   * cannot commit it. A callback that stages nothing proposes nothing.
   */
  async update(write: (tx: WriteTx) => void, signal?: AbortSignal): Promise<Committed> {
    const scope = new TxScope();
    try {
      const returned: unknown = write(new WriteTx(this.tables, scope));
      if (returned instanceof Promise) {
        throw new StoreError(StoreErrorCode.INVALID, "an update callback must be synchronous: its transaction ends when it returns");
      }
    } finally {
      scope.open = false;
    }
    if (scope.staged.size === 0) return { index: this.applied, changes: [] };
    const result = await this.proposer.propose(encodeTransaction(this.clock(), scope.staged.values()), signal);
    if (!result.ok) throw result.error;
    return result.committed;
  }

  /** Subscribes to the changes applied from now on (those that pass `filter`), each transaction's followed by a `commit` marker. */
  watch<N extends TableName = TableName>(filter: WatchFilter<N> = {}): Subscription<N> {
    return this.watchers.subscribe(filter);
  }

  /** Runs `read` and subscribes with nothing applied in between: no change is missed or seen twice. */
  viewAndWatch<T, N extends TableName = TableName>(read: (tx: ReadTx) => T, filter: WatchFilter<N> = {}): ViewAndWatch<T, N> {
    // Both are synchronous, and entries are applied only between JavaScript tasks, so no
    // entry can be applied between the two calls.
    const result = this.view(read);
    return { result, subscription: this.watch(filter) };
  }

  /**
   * Applies the committed entry at `index` (the Raft node calls this for each entry, in
   * order). A refused transaction is a result, not an exception: it changes nothing here or
   * on any manager. Throws only when entries come out of order, a bug in the caller.
   */
  apply(index: number, data: Uint8Array): ApplyResult {
    if (index <= this.applied) {
      throw new Error(`store: entry ${index} applied after entry ${this.applied}; each entry must be applied once, in order`);
    }
    let changes: AnyChange[];
    try {
      changes = applyTransaction(this.tables, index, data);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      this.applied = index;
      return { ok: false, error: err };
    }
    this.applied = index;
    if (changes.length > 0) this.watchers.publish(changes, { kind: "commit", index });
    return { ok: true, committed: { index, changes: typed(changes) } };
  }

  /** The whole state, deterministically encoded: equal states give equal bytes. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.tables);
  }

  /** {@inheritDoc StateMachine.snapshotInSlices} */
  snapshotInSlices(prefix?: (stateLength: number) => Uint8Array): Promise<Uint8Array> {
    return encodeSnapshotInSlices(this.tables, prefix);
  }

  /**
   * Replaces the whole state with a snapshot taken at `index`. Watchers receive the changes
   * from the old state to the new one, then a `restored` marker.
   */
  restore(index: number, data: Uint8Array): void {
    const next = decodeSnapshot(data);
    const changes = diffTables(this.tables, next);
    this.tables = next;
    this.applied = index;
    this.watchers.publish(changes, { kind: "restored", index });
  }
}
