/**
 * The store's applied state: for each table, its objects by id and its secondary indexes. Only
 * the store writes here, when it applies a committed transaction or restores a snapshot;
 * everyone else reads through transactions (tx.ts).
 */
import { TABLE_NAMES, indexKeyOf, normalizeKey, tableDef } from "./tables.ts";
import type { IndexDef, IndexKey, Stored, TableName } from "./tables.ts";
import { compareKeys } from "./sort-in-slices.ts";

/** Read access to objects by table: what both the applied state and a transaction's staged view offer. */
export interface Rows {
  /** The object with this id, or `undefined`. */
  get(table: TableName, id: string): Stored | undefined;
  /** Every object of the table, in no particular order. */
  list(table: TableName): Stored[];
  /** The objects a secondary index holds under `key` (normalized as the index does). */
  find(table: TableName, index: string, key: IndexKey): Stored[];
}

/**
 * One secondary index: key → ids. A key with one object holds its id as it is, and a Set only
 * once a second object shares it: most keys (every key of a unique index) have one object, and
 * a Set per object cost a store of many objects a third of its memory and of its GC work.
 */
interface Index {
  readonly def: IndexDef<Stored>;
  readonly ids: Map<IndexKey, string | Set<string>>;
}

/** Adds `id` under `key`. */
function addId(ids: Map<IndexKey, string | Set<string>>, key: IndexKey, id: string): void {
  const held = ids.get(key);
  if (held === undefined) ids.set(key, id);
  else if (typeof held !== "string") held.add(id);
  else if (held !== id) ids.set(key, new Set([held, id]));
}

/** Removes `id` from under `key`. */
function removeId(ids: Map<IndexKey, string | Set<string>>, key: IndexKey, id: string): void {
  const held = ids.get(key);
  if (held === undefined) return;
  if (typeof held === "string") {
    if (held === id) ids.delete(key);
    return;
  }
  held.delete(id);
  if (held.size === 1) ids.set(key, held.values().next().value!);
  else if (held.size === 0) ids.delete(key);
}

/** One table: objects by id, and its indexes kept in step with them. */
class Table {
  readonly rows = new Map<string, Stored>();
  readonly indexes = new Map<string, Index>();

  constructor(readonly name: TableName) {
    for (const [indexName, def] of Object.entries(tableDef(name).indexes)) {
      this.indexes.set(indexName, { def, ids: new Map() });
    }
  }

  index(name: string): Index {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`table ${this.name} has no index ${JSON.stringify(name)}`);
    return index;
  }

  /** Inserts or replaces an object. */
  put(object: Stored): void {
    const old = this.rows.get(object.id);
    if (old) this.unindex(old);
    this.rows.set(object.id, object);
    for (const { def, ids } of this.indexes.values()) {
      const key = indexKeyOf(def, object);
      if (key !== undefined) addId(ids, key, object.id);
    }
  }

  /** Removes the object with this id, if any. */
  remove(id: string): void {
    const old = this.rows.get(id);
    if (!old) return;
    this.unindex(old);
    this.rows.delete(id);
  }

  private unindex(object: Stored): void {
    for (const { def, ids } of this.indexes.values()) {
      const key = indexKeyOf(def, object);
      if (key !== undefined) removeId(ids, key, object.id);
    }
  }
}

/** Every table of the store. */
export class Tables implements Rows {
  private readonly tables = new Map<TableName, Table>(TABLE_NAMES.map((name) => [name, new Table(name)]));

  /** {@inheritDoc Rows.get} */
  get(table: TableName, id: string): Stored | undefined {
    return this.table(table).rows.get(id);
  }

  /** {@inheritDoc Rows.list} */
  list(table: TableName): Stored[] {
    return [...this.table(table).rows.values()];
  }

  /** {@inheritDoc Rows.find} */
  find(table: TableName, index: string, key: IndexKey): Stored[] {
    const t = this.table(table);
    const { def, ids } = t.index(index);
    const held = ids.get(normalizeKey(def, key));
    if (held === undefined) return [];
    if (typeof held === "string") return [t.rows.get(held)!];
    return [...held].map((id) => t.rows.get(id)!);
  }

  /** Inserts or replaces an object (already canonical: see canonical.ts). */
  put(table: TableName, object: Stored): void {
    this.table(table).put(object);
  }

  /** Removes an object by id, if present. */
  remove(table: TableName, id: string): void {
    this.table(table).remove(id);
  }

  /** Every object of the table, sorted by id. */
  sorted(table: TableName): Stored[] {
    return this.list(table).sort((a, b) => compareKeys(a.id, b.id));
  }

  private table(name: TableName): Table {
    const table = this.tables.get(name);
    if (!table) throw new Error(`no table ${JSON.stringify(name)}`);
    return table;
  }
}
