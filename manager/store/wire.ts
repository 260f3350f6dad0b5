/**
 * How store writes travel through the Raft log: staged writes encode into one
 * `StoreTransaction` (proto/store.proto), and a committed entry decodes back into them.
 */
import { StoreActionKind, StoreTransactionCodec } from "../../proto/gen/store.ts";
import type { StoreAction, StoreObject } from "../../proto/gen/store.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import type { WriteVerb } from "./errors.ts";
import { TABLE_NAMES } from "./tables.ts";
import type { Stored, TableName } from "./tables.ts";

/** One write of one object, as staged by a transaction and carried in the log. */
export interface WriteAction {
  /** What the write does. */
  readonly verb: WriteVerb;
  /** The object's table. */
  readonly table: TableName;
  /** The object as written; for a delete, as it was read. */
  readonly object: Stored;
  /** Update and delete: the `meta.version` the writer read. 0 for a create. */
  readonly expectedVersion: number;
}

/** A decoded log entry of the store. */
export interface DecodedTransaction {
  /** Milliseconds since the epoch, chosen by the proposer: the written objects' timestamps. */
  readonly timestamp: number;
  /** The writes, in order. */
  readonly actions: readonly WriteAction[];
}

const KIND_OF: Readonly<Record<WriteVerb, StoreActionKind>> = {
  create: StoreActionKind.STORE_ACTION_CREATE,
  update: StoreActionKind.STORE_ACTION_UPDATE,
  delete: StoreActionKind.STORE_ACTION_DELETE,
};
const VERB_OF = new Map<number, WriteVerb>(Object.entries(KIND_OF).map(([verb, kind]) => [kind, verb as WriteVerb]));

/** Wraps an object in the `StoreObject` field named after its table. */
export function packObject(table: TableName, object: Stored): StoreObject {
  return { [table]: object };
}

/** The one table and object a `StoreObject` holds; throws INVALID unless exactly one field is set. */
export function unpackObject(wrapped: StoreObject | undefined): { table: TableName; object: Stored } {
  const set = TABLE_NAMES.filter((name) => wrapped?.[name] !== undefined);
  if (set.length !== 1) {
    throw new StoreError(StoreErrorCode.INVALID, `a stored object must be exactly one of ${TABLE_NAMES.join(", ")}; got ${set.length === 0 ? "none" : set.join(" and ")}`);
  }
  const table = set[0]!;
  return { table, object: wrapped![table]! };
}

/** Encodes writes as one log entry. */
export function encodeTransaction(timestamp: number, actions: Iterable<WriteAction>): Uint8Array {
  const encoded: StoreAction[] = [];
  for (const a of actions) {
    encoded.push({ kind: KIND_OF[a.verb], object: packObject(a.table, a.object), expectedVersion: a.expectedVersion });
  }
  return StoreTransactionCodec.encode({ timestamp, actions: encoded });
}

/** Decodes a log entry; throws INVALID when it is not a well-formed store transaction. */
export function decodeTransaction(data: Uint8Array): DecodedTransaction {
  let decoded;
  try {
    decoded = StoreTransactionCodec.decode(data);
  } catch (err) {
    throw new StoreError(StoreErrorCode.INVALID, `not a store transaction: ${(err as Error).message}`);
  }
  const actions = decoded.actions.map((a): WriteAction => {
    const verb = VERB_OF.get(a.kind);
    if (verb === undefined) throw new StoreError(StoreErrorCode.INVALID, `unknown store action kind ${a.kind}`);
    return { verb, ...unpackObject(a.object), expectedVersion: a.expectedVersion };
  });
  return { timestamp: decoded.timestamp, actions };
}
