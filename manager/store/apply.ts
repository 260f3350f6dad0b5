/**
 * Applying one committed entry: decode it, check every write against the state as the
 * writes before it in the entry left it, and only when all pass, change the state. The same
 * entry gives the same outcome on every manager, so a refused transaction changes nothing
 * anywhere.
 */
import { canonical } from "./canonical.ts";
import { invalid } from "./errors.ts";
import type { AnyChange } from "./events.ts";
import { Overlay } from "./overlay.ts";
import { stageWrite } from "./rules.ts";
import type { Tables } from "./table.ts";
import type { Stored } from "./tables.ts";
import { decodeTransaction } from "./wire.ts";

/**
 * Applies the transaction in `data`, committed at `index`, to `tables`. Every written object
 * gets `meta.version = index` and the transaction's timestamp. Returns the changes, in the
 * entry's order; throws a StoreError, with `tables` untouched, when any write is refused.
 */
export function applyTransaction(tables: Tables, index: number, data: Uint8Array): AnyChange[] {
  const { timestamp, actions } = decodeTransaction(data);
  const view = new Overlay(tables);
  const changes: AnyChange[] = [];
  for (const action of actions) {
    const { verb, table, object } = action;
    // A writer's transaction folds repeated writes of one object into one (tx.ts); two here
    // could only be decided by the version the first one gives, which no writer can know.
    if (view.touched(table, object.id)) throw invalid(table, object.id, "written twice in one transaction");
    const before = view.get(table, object.id);
    const written: Stored = verb === "delete" ? object : canonical({
      ...object,
      meta: { version: index, createdAt: before?.meta?.createdAt ?? timestamp, updatedAt: timestamp },
    });
    stageWrite(view, { ...action, object: written });
    if (verb === "create") changes.push({ kind: "create", table, object: written });
    else if (verb === "update") changes.push({ kind: "update", table, object: written, old: before! });
    else changes.push({ kind: "delete", table, object: before! });
  }
  for (const { kind, table, object } of changes) {
    if (kind === "delete") tables.remove(table, object.id);
    else tables.put(table, object);
  }
  return changes;
}
