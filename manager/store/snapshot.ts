/**
 * Store snapshots: the whole state as one `StoreSnapshot` (proto/store.proto), tables in name
 * order and objects in id order, so equal states give equal bytes; and the changes that turn
 * one state into another, which a restore publishes to watchers.
 */
import { ownBytes, varintLength, writeVarint } from "../../proto/codec.ts";
import { StoreObjectCodec, StoreSnapshotCodec } from "../../proto/gen/store.ts";
import { canonical } from "./canonical.ts";
import type { AnyChange } from "./events.ts";
import { Tables } from "./table.ts";
import { TABLE_NAMES } from "./tables.ts";
import type { Stored, TableName } from "./tables.ts";
import { Slices, sortInSlices } from "./sort-in-slices.ts";
import { packObject, unpackObject } from "./wire.ts";

/**
 * Each stored object's encoding, kept while the object lives. Stored objects are frozen (a write
 * replaces them), so an encoding never goes stale; a snapshot then costs a copy of bytes instead
 * of encoding every object again, which stalled a manager for a tenth of a second or more with
 * tens of thousands of objects. The price is the bytes of the live objects once more in memory
 * (each in memory of its own, not pinning a shared slab: see `ownBytes`).
 */
const encodings = new WeakMap<Stored, Uint8Array>();

function encodedObject(table: TableName, object: Stored): Uint8Array {
  let bytes = encodings.get(object);
  if (!bytes) {
    bytes = ownBytes(StoreObjectCodec.encode(packObject(table, object)));
    encodings.set(object, bytes);
  }
  return bytes;
}

/** Field 1 (`objects`) of StoreSnapshot, length-delimited: its tag byte on the wire. */
const OBJECTS_FIELD_TAG = (1 << 3) | 2;

/** Bytes of `encoded` as the elements of StoreSnapshot's repeated field 1, one after another. */
function snapshotSize(encoded: readonly Uint8Array[]): number {
  let size = 0;
  for (const bytes of encoded) size += 1 + varintLength(bytes.byteLength) + bytes.byteLength;
  return size;
}

/** Writes `bytes` as one element of StoreSnapshot's repeated field 1 at `offset`; returns the offset after it. */
function writeElement(out: Uint8Array, offset: number, bytes: Uint8Array): number {
  out[offset++] = OBJECTS_FIELD_TAG;
  offset = writeVarint(out, offset, bytes.byteLength);
  out.set(bytes, offset);
  return offset + bytes.byteLength;
}

/**
 * Encodes the whole state as a StoreSnapshot, at once: the wire form of a repeated message
 * field is each element's tag, length and bytes one after another, so the objects' cached
 * encodings are copied into one buffer sized beforehand.
 */
export function encodeSnapshot(tables: Tables): Uint8Array {
  const encoded = TABLE_NAMES.flatMap((table) => tables.sorted(table).map((object) => encodedObject(table, object)));
  const out = new Uint8Array(snapshotSize(encoded));
  let offset = 0;
  for (const bytes of encoded) offset = writeElement(out, offset, bytes);
  return out;
}

/**
 * The same bytes as {@link encodeSnapshot} for the state as it is now, computed in slices of
 * about 2 ms of work (sorting, encoding, copying) with pauses between (see {@link Slices}), so
 * that a large state does not stall the manager: encoding 250,000 objects not encoded before
 * takes about a second of work. Writes applied meanwhile do not change the result: the objects
 * are captured now (a list of references), and stored objects are never modified. With
 * `prefix`, the bytes are preceded, in the same buffer, by `prefix(their length)`. `slices`
 * (for tests and the benchmark) counts the pauses.
 */
export async function encodeSnapshotInSlices(
  tables: Tables, prefix?: (stateLength: number) => Uint8Array, slices = new Slices(),
): Promise<Uint8Array> {
  const captured = TABLE_NAMES.map((table) => ({ table, objects: tables.list(table) }));
  const encoded: Uint8Array[] = [];
  for (const { table, objects } of captured) {
    const sorted = await sortInSlices(objects, (o) => o.id, slices);
    for (const object of sorted) {
      encoded.push(encodedObject(table, object));
      if (slices.due()) await slices.pause();
    }
  }
  const size = snapshotSize(encoded);
  const head = prefix?.(size) ?? new Uint8Array();
  const out = new Uint8Array(head.byteLength + size);
  out.set(head, 0);
  let offset = head.byteLength;
  for (const bytes of encoded) {
    offset = writeElement(out, offset, bytes);
    if (slices.due()) await slices.pause();
  }
  return out;
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
