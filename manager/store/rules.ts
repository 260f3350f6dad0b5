/**
 * The rules every write obeys, in one place: checked when a transaction stages a write (so a
 * mistake fails at once, inside the caller's callback) and again, deterministically, when the
 * committed entry is applied on every manager (where they decide).
 */
import { alreadyExists, conflict, invalid, keyTaken, notFound } from "./errors.ts";
import type { Overlay } from "./overlay.ts";
import { indexKeyOf, tableDef } from "./tables.ts";
import type { Stored } from "./tables.ts";
import type { WriteAction } from "./wire.ts";

/**
 * Checks one write against `view` and, when it passes, stages it there. Throws a StoreError
 * (INVALID, ALREADY_EXISTS, NOT_FOUND, CONFLICT) and leaves `view` unchanged when it does not.
 * Returns the object as it was before the write (`undefined` for a create).
 */
export function stageWrite(view: Overlay, action: WriteAction): Stored | undefined {
  const { verb, table, object, expectedVersion } = action;
  if (object.id === "") throw invalid(table, "", "id is empty");
  if (verb !== "delete") {
    const problem = tableDef(table).validate?.(object);
    if (problem) throw invalid(table, object.id, problem);
  }
  const current = view.get(table, object.id);
  if (verb === "create") {
    // An id deleted earlier in the same transaction stays taken until it commits: a delete
    // and a create of one id would fold into neither (see WriteTx.stage).
    if (current || view.touched(table, object.id)) throw alreadyExists(table, object.id);
  } else {
    if (!current) throw notFound(table, object.id);
    const version = current.meta?.version ?? 0;
    if (version !== expectedVersion) throw conflict(verb, table, object.id, version, expectedVersion);
  }
  if (verb === "delete") {
    view.write(table, object.id, null);
    return current;
  }
  for (const [name, def] of Object.entries(tableDef(table).indexes)) {
    if (!def.unique) continue;
    const key = indexKeyOf(def, object);
    if (key === undefined) continue;
    const holder = view.find(table, name, key).find((o) => o.id !== object.id);
    if (holder) throw keyTaken(table, object.id, name, key, holder.id);
  }
  view.write(table, object.id, object);
  return current;
}
