/**
 * Store snapshots: the whole state as one `StoreSnapshot` (proto/store.proto), tables in name
 * order and objects in id order, so equal states give equal bytes; and the changes that turn
 * one state into another, which a restore publishes to watchers.
 */
import { varintLength, writeVarint } from "../../proto/codec.ts";
import { StoreObjectCodec, StoreSnapshotCodec } from "../../proto/gen/store.ts";
import { canonical } from "./canonical.ts";
import type { AnyChange } from "./events.ts";
import { Tables } from "./table.ts";
import { TABLE_NAMES } from "./tables.ts";
import type { Stored, TableName } from "./tables.ts";
import { packObject, unpackObject } from "./wire.ts";

/**
 * Each stored object's encoding, kept while the object lives. Stored objects are frozen (a write
 * replaces them), so an encoding never goes stale; a snapshot then costs a copy of bytes instead
 * of encoding every object again, which stalled a manager for a tenth of a second or more with
 * tens of thousands of objects. The price is the bytes of the live objects once more in memory.
 */
const encodings = new WeakMap<Stored, Uint8Array>();

function encodedObject(table: TableName, object: Stored): Uint8Array {
  let bytes = encodings.get(object);
  if (!bytes) {
    bytes = StoreObjectCodec.encode(packObject(table, object));
    encodings.set(object, bytes);
  }
  return bytes;
}

/** Field 1 (`objects`) of StoreSnapshot, length-delimited: its tag byte on the wire. */
const OBJECTS_FIELD_TAG = (1 << 3) | 2;

/** Every object of the state, tables in name order and objects in id order. */
function capture(tables: Tables): { table: TableName; object: Stored }[] {
  const objects: { table: TableName; object: Stored }[] = [];
  for (const table of TABLE_NAMES) for (const object of tables.sorted(table)) objects.push({ table, object });
  return objects;
}

/**
 * Concatenates objects' encodings into one StoreSnapshot: the wire form of a repeated message
 * field is each element's tag, length and bytes one after another, in a buffer sized beforehand.
 */
function concatenate(encoded: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const bytes of encoded) size += 1 + varintLength(bytes.byteLength) + bytes.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const bytes of encoded) {
    out[offset++] = OBJECTS_FIELD_TAG;
    offset = writeVarint(out, offset, bytes.byteLength);
    out.set(bytes, offset);
    offset += bytes.byteLength;
  }
  return out;
}

/** Encodes the whole state as a StoreSnapshot, at once. */
export function encodeSnapshot(tables: Tables): Uint8Array {
  return concatenate(capture(tables).map(({ table, object }) => encodedObject(table, object)));
}

/** Objects encoded per turn of the event loop by {@link encodeSnapshotInSlices}: a few milliseconds' work. */
export const SNAPSHOT_SLICE_OBJECTS = 2_000;

/**
 * The same bytes as {@link encodeSnapshot} for the state as it is now, encoded a slice of
 * objects per turn of the event loop, so that a large state does not stall the manager (objects
 * not encoded before cost about 4 µs each: a second for 250,000). Writes applied meanwhile do not
 * change the result: the objects are captured now, and stored objects are never modified.
 */
export async function encodeSnapshotInSlices(tables: Tables): Promise<Uint8Array> {
  const objects = capture(tables);
  const encoded: Uint8Array[] = [];
  for (let i = 0; i < objects.length; i++) {
    if (i > 0 && i % SNAPSHOT_SLICE_OBJECTS === 0) await new Promise((resolve) => setImmediate(resolve));
    encoded.push(encodedObject(objects[i]!.table, objects[i]!.object));
  }
  return concatenate(encoded);
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
