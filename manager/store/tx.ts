/**
 * Transactions: the only way to read or write the store. A read transaction sees the applied
 * state; a write transaction sees the applied state plus its own staged writes, and its writes
 * become one Raft proposal when its callback returns. Both are valid only during the callback.
 */
import { canonical } from "./canonical.ts";
import { invalid, StoreError, StoreErrorCode } from "./errors.ts";
import { Overlay } from "./overlay.ts";
import { stageWrite } from "./rules.ts";
import type { Rows, Tables } from "./table.ts";
import type { IndexKeyOf, IndexName, ObjectOf, Stored, TableName } from "./tables.ts";
import type { WriteAction } from "./wire.ts";

/** The life of one transaction, owned by the store: open during the callback, and the writes it staged. */
export class TxScope {
  /** Cleared by the store when the callback returns; a transaction used afterwards throws. */
  open = true;
  /** Staged writes by table and id, at most one per object, in the order first staged. */
  readonly staged = new Map<string, WriteAction>();
}

/** Reads of a consistent state: nothing changes while the callback runs. Objects read are frozen. */
export class ReadTx {
  /**
   * @param source where objects are read from
   * @param scope the transaction's life, owned by the store
   */
  constructor(private readonly source: Rows, protected readonly scope: TxScope) {}

  /** The object with this id, or `undefined`. */
  get<N extends TableName>(table: N, id: string): ObjectOf<N> | undefined {
    return this.rows().get(table, id) as ObjectOf<N> | undefined;
  }

  /** Every object of the table, in no particular order. */
  list<N extends TableName>(table: N): ObjectOf<N>[] {
    return this.rows().list(table) as ObjectOf<N>[];
  }

  /**
   * The objects a secondary index holds under `key`, in no particular order, e.g.
   * `find("node", "role", NodeRole.NODE_ROLE_MANAGER)`. Names match without regard to case.
   */
  find<N extends TableName, I extends IndexName<N>>(table: N, index: I, key: IndexKeyOf<N, I>): ObjectOf<N>[] {
    return this.rows().find(table, index, key as string | number) as ObjectOf<N>[];
  }

  /** Throws INVALID when the callback this transaction was made for has returned. */
  protected ensureOpen(): void {
    if (!this.scope.open) throw new StoreError(StoreErrorCode.INVALID, "store transaction used after its callback returned");
  }

  private rows(): Rows {
    this.ensureOpen();
    return this.source;
  }
}

/**
 * A read transaction that also stages writes. Each write is checked at once against what the
 * transaction sees (a mistake throws a StoreError inside the callback), and again when the
 * committed entry is applied, where concurrent writers are decided.
 */
export class WriteTx extends ReadTx {
  private readonly view: Overlay;

  /**
   * @param base the applied state
   * @param scope the transaction's life and staged writes, owned by the store
   */
  constructor(base: Tables, scope: TxScope) {
    const view = new Overlay(base);
    super(view, scope);
    this.view = view;
  }

  /** Stages the creation of an object. Its `meta` is set by the store when it commits. */
  create<N extends TableName>(table: N, object: ObjectOf<N>): void {
    const staged = canonical({ ...object, meta: { version: 0, createdAt: 0, updatedAt: 0 } }, { shortLived: true });
    this.stage({ verb: "create", table, object: staged, expectedVersion: 0 });
  }

  /**
   * Stages the replacement of an object by a changed copy of it. The copy keeps the `meta` it
   * was read with: if the object has been written since that version, the update fails with
   * CONFLICT.
   */
  update<N extends TableName>(table: N, object: ObjectOf<N>): void {
    const read: Stored = object;
    if (!read.meta) throw invalid(table, read.id, "an update must carry the meta.version it was read at");
    this.stage({ verb: "update", table, object: canonical(object, { shortLived: true }), expectedVersion: read.meta.version });
  }

  /** Stages the deletion of the object with this id, as this transaction sees it. */
  delete<N extends TableName>(table: N, id: string): void {
    const current = this.view.get(table, id) ?? { id };
    this.stage({ verb: "delete", table, object: current, expectedVersion: current.meta?.version ?? 0 });
  }

  /** Checks and stages a write, folding it into an earlier write of the same object. */
  private stage(action: WriteAction): void {
    this.ensureOpen();
    stageWrite(this.view, action);
    const key = `${action.table}\0${action.object.id}`;
    const earlier = this.scope.staged.get(key);
    if (!earlier) {
      this.scope.staged.set(key, action);
    } else if (earlier.verb === "create" && action.verb === "delete") {
      this.scope.staged.delete(key); // created and deleted here: nothing to send (the id stays taken in this transaction)
    } else {
      // A created object stays a create; otherwise the write is made from the version first read.
      this.scope.staged.set(key, { ...action, verb: earlier.verb === "create" ? "create" : action.verb, expectedVersion: earlier.expectedVersion });
    }
  }
}
