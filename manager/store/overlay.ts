/**
 * Writes staged over the applied state, readable as if they were applied: what a write
 * transaction sees of its own changes, and what the store checks a committed transaction
 * against before it changes anything.
 */
import type { Rows, Tables } from "./table.ts";
import { indexKeyOf, normalizeKey, tableDef } from "./tables.ts";
import type { IndexKey, Stored, TableName } from "./tables.ts";

/** The applied state plus staged writes (an object, or `null` for a delete). */
export class Overlay implements Rows {
  private readonly writes = new Map<TableName, Map<string, Stored | null>>();

  /** @param base the applied state; it is read, never changed */
  constructor(private readonly base: Tables) {}

  /** {@inheritDoc Rows.get} */
  get(table: TableName, id: string): Stored | undefined {
    const staged = this.writes.get(table);
    if (staged?.has(id)) return staged.get(id) ?? undefined;
    return this.base.get(table, id);
  }

  /** {@inheritDoc Rows.list} */
  list(table: TableName): Stored[] {
    return this.merge(table, this.base.list(table), () => true);
  }

  /** {@inheritDoc Rows.find} */
  find(table: TableName, index: string, key: IndexKey): Stored[] {
    const fromBase = this.base.find(table, index, key); // throws when the table has no such index
    const def = tableDef(table).indexes[index]!;
    const wanted = normalizeKey(def, key);
    return this.merge(table, fromBase, (o) => indexKeyOf(def, o) === wanted);
  }

  /** Whether this overlay wrote (or deleted) the object. */
  touched(table: TableName, id: string): boolean {
    return this.writes.get(table)?.has(id) ?? false;
  }

  /** Stages a write: the new object, or `null` to delete `id`. */
  write(table: TableName, id: string, object: Stored | null): void {
    let staged = this.writes.get(table);
    if (!staged) this.writes.set(table, (staged = new Map()));
    staged.set(id, object);
  }

  /** Base objects this overlay did not touch, plus its own writes that pass `keep`. */
  private merge(table: TableName, fromBase: Stored[], keep: (object: Stored) => boolean): Stored[] {
    const staged = this.writes.get(table);
    if (!staged) return fromBase;
    const out = fromBase.filter((o) => !staged.has(o.id));
    for (const object of staged.values()) if (object && keep(object)) out.push(object);
    return out;
  }
}
