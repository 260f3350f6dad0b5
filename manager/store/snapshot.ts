/**
 * Store snapshots: the whole state as one `StoreSnapshot` (proto/store.proto), tables in name
 * order and objects in id order, so equal states give equal bytes; and the changes that turn
 * one state into another, which a restore publishes to watchers.
 */
import { StoreObjectCodec, StoreSnapshotCodec } from "../../proto/gen/store.ts";
import { canonical } from "./canonical.ts";
import type { AnyChange } from "./events.ts";
import { Tables } from "./table.ts";
import { TABLE_NAMES } from "./tables.ts";
import { Slices, sortInSlices } from "./sort-in-slices.ts";
import { packObject, unpackObject } from "./wire.ts";

/** Field 1 (`objects`) of StoreSnapshot: a snapshot is its elements, one after another. */
const OBJECTS_FIELD = 1;

/**
 * Encodes the whole state as a StoreSnapshot, at once. Objects are encoded afresh for every
 * snapshot: remembering each object's bytes made a snapshot a copy of bytes, but the cache held
 * a second copy of the store in memory as three more objects per stored object, a weak map's
 * entry among them, and made every full collection of a large store about twice as long
 * (`npm run bench:snapshot`, 250,000 configs: 167 against 80 ms, 342 against 209 MB), while
 * snapshots are rare (see raft-node.ts).
 */
export function encodeSnapshot(tables: Tables): Uint8Array {
  return StoreSnapshotCodec.encode({ objects: TABLE_NAMES.flatMap((table) => tables.sorted(table).map((object) => packObject(table, object))) });
}

/**
 * The same bytes as {@link encodeSnapshot} for the state as it is now, computed in slices of
 * about 2 ms of work (sorting, encoding, copying) with pauses between (see {@link Slices}), so
 * that a large state does not stall the manager: 250,000 configs take about 1.5 s of work
 * (`npm run bench:snapshot`). Writes applied meanwhile do not change the result: the objects
 * are captured now (a list of references), and stored objects are never modified. With
 * `prefix`, the bytes are preceded, in the same buffer, by `prefix(their length)`. `slices`
 * (for tests and the benchmark) counts the pauses.
 *
 * Each slice's objects are written into one buffer as they are encoded (StoreSnapshot's
 * elements, which concatenate): a buffer per object, copied into the slice's at its end, took
 * about 1.5 to 1.8 times the CPU at 100,000 and 250,000 configs (`npm run bench:snapshot` on
 * both codes) and made as many short-lived buffers as objects.
 */
export async function encodeSnapshotInSlices(
  tables: Tables, prefix?: (stateLength: number) => Uint8Array, slices = new Slices(),
): Promise<Uint8Array> {
  const captured = TABLE_NAMES.map((table) => ({ table, objects: tables.list(table) }));
  const writer = StoreObjectCodec.repeatedFieldWriter(OBJECTS_FIELD);
  const chunks: Uint8Array[] = [];
  for (const { table, objects } of captured) {
    const sorted = await sortInSlices(objects, (o) => o.id, slices);
    for (const object of sorted) {
      writer.add(packObject(table, object));
      if (slices.due()) {
        chunks.push(writer.take());
        await slices.pause();
      }
    }
  }
  chunks.push(writer.take());
  const size = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const head = prefix?.(size) ?? new Uint8Array();
  // A SharedArrayBuffer, which V8 does not count as external memory (see byte-slab.ts): a
  // snapshot of hundreds of MB would otherwise start a full collection at once.
  const out = new Uint8Array(new SharedArrayBuffer(head.byteLength + size));
  out.set(head, 0);
  let offset = head.byteLength;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
    if (slices.due(chunk.byteLength >> 10)) await slices.pause();
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
