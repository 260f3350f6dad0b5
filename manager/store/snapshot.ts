/**
 * Store snapshots: the whole state as one `StoreSnapshot` (proto/store.proto), tables in name
 * order and objects in id order, so equal states give equal bytes; and the changes that turn
 * one state into another, which a restore publishes to watchers.
 */
import { StoreSnapshotCodec } from "../../proto/gen/store.ts";
import { canonical } from "./canonical.ts";
import type { AnyChange } from "./events.ts";
import { Tables } from "./table.ts";
import { TABLE_NAMES } from "./tables.ts";
import { packObject, unpackObject } from "./wire.ts";

/** Encodes the whole state. */
export function encodeSnapshot(tables: Tables): Uint8Array {
  const objects = TABLE_NAMES.flatMap((table) => tables.sorted(table).map((object) => packObject(table, object)));
  return StoreSnapshotCodec.encode({ objects });
}

/** Decodes a snapshot into a fresh state; throws an Error saying what is wrong with malformed bytes. */
export function decodeSnapshot(data: Uint8Array): Tables {
  const tables = new Tables();
  try {
    for (const wrapped of StoreSnapshotCodec.decode(data).objects) {
      const { table, object } = unpackObject(wrapped);
      tables.put(table, canonical(object));
    }
  } catch (err) {
    throw new Error(`invalid store snapshot: ${(err as Error).message}`, { cause: err });
  }
  return tables;
}

/**
 * The changes from `before` to `after`, table by table in id order. Objects are compared by
 * version: a version is the index of the entry that last wrote the object, and every manager
 * applies the same entries, so the same id at the same version is the same object.
 */
export function diffTables(before: Tables, after: Tables): AnyChange[] {
  const changes: AnyChange[] = [];
  for (const table of TABLE_NAMES) {
    for (const object of before.sorted(table)) {
      if (!after.get(table, object.id)) changes.push({ kind: "delete", table, object });
    }
    for (const object of after.sorted(table)) {
      const old = before.get(table, object.id);
      if (!old) changes.push({ kind: "create", table, object });
      else if (old.meta?.version !== object.meta?.version) changes.push({ kind: "update", table, object, old });
    }
  }
  return changes;
}
