/**
 * The table registry: every kind of stored object, its secondary indexes and its rules. A
 * table's name is the name of its field in the `StoreObject` message (proto/store.proto), so
 * adding a table is one field there and one entry in {@link TABLES} here; the compiler
 * refuses a field without an entry.
 */
import type { Node } from "../../proto/gen/objects.ts";
import type { StoreObject } from "../../proto/gen/store.ts";
import type { Annotations, Meta } from "../../proto/gen/types.ts";

/** The name of a table: `"node"`, `"cluster"`, `"config"`. */
export type TableName = keyof StoreObject & string;

/** The type of the objects a table holds. */
export type ObjectOf<N extends TableName> = NonNullable<StoreObject[N]>;

/** What every stored object has: an id, and the metadata the store maintains. */
export interface Stored {
  /** Unique within its table, never reused. */
  readonly id: string;
  /** Set by the store when a write is applied; writers present the version they read. */
  readonly meta?: Meta;
}

/** A key of a secondary index. */
export type IndexKey = string | number;

/** A secondary index: which key an object is found under. */
export interface IndexDef<T, K extends IndexKey = IndexKey> {
  /** The object's key, or `undefined` when the object is not in this index. */
  readonly key: (object: T) => K | undefined;
  /** At most one object per key; a write that would add a second is refused (ALREADY_EXISTS). */
  readonly unique?: boolean;
  /** String keys compare without regard to case, as Docker's names do. */
  readonly caseInsensitive?: boolean;
}

/** The definition of one table. */
export interface TableDef<T> {
  /** Secondary indexes by name; every table is also indexed by id. */
  readonly indexes: Readonly<Record<string, IndexDef<T>>>;
  /** Rules beyond a non-empty id: says what is wrong with a created or updated object. */
  readonly validate?: (object: T) => string | undefined;
}

/** A name, or `undefined` when it is empty (an empty name is in no index). */
function named(name: string | undefined): string | undefined {
  return name === undefined || name === "" ? undefined : name;
}

/** An object whose spec carries a name and labels. */
interface Annotated {
  readonly spec?: { readonly annotations?: Annotations };
}

/** An index of unique names from the spec, compared without regard to case, as Docker's names are. */
const UNIQUE_SPEC_NAME = { key: (o: Annotated) => named(o.spec?.annotations?.name), unique: true, caseInsensitive: true } as const;

/** Refuses an object whose spec has no name. */
function requireSpecName(o: Annotated): string | undefined {
  return named(o.spec?.annotations?.name) ? undefined : "spec.annotations.name is empty";
}

/** A node is known by its spec name, or by its hostname when it has none (as in SwarmKit). */
function nodeName(node: Node): string | undefined {
  return named(node.spec?.annotations?.name) ?? named(node.description?.hostname);
}

/** Every table, by name. */
export const TABLES = {
  cluster: {
    indexes: { name: UNIQUE_SPEC_NAME },
    validate: requireSpecName,
  },
  config: {
    indexes: { name: UNIQUE_SPEC_NAME },
    validate: requireSpecName,
  },
  node: {
    indexes: {
      name: { key: nodeName, caseInsensitive: true },
      role: { key: (n: Node) => n.role },
      availability: { key: (n: Node) => n.spec?.availability },
      // Raft ids are never reused, so two nodes claiming one is a bug worth refusing.
      raftId: { key: (n: Node) => n.managerStatus?.raftId || undefined, unique: true },
    },
  },
} as const satisfies { readonly [N in TableName]: TableDef<ObjectOf<N>> };

/** Table names in a fixed order (sorted), for deterministic snapshots and iteration. */
export const TABLE_NAMES: readonly TableName[] = (Object.keys(TABLES) as TableName[]).sort();

/** The names of a table's secondary indexes. */
export type IndexName<N extends TableName> = keyof (typeof TABLES)[N]["indexes"] & string;

/** The key type of one index, e.g. `NodeRole` for the nodes' `role` index. */
export type IndexKeyOf<N extends TableName, I extends IndexName<N>> =
  (typeof TABLES)[N]["indexes"][I] extends IndexDef<never, infer K> ? K : never;

/** A table's definition, seen through the common {@link Stored} shape the store's machinery uses. */
export function tableDef(table: TableName): TableDef<Stored> {
  return TABLES[table] as TableDef<never> as TableDef<Stored>;
}

/** The key `object` has in an index (normalized), or `undefined` when it is not in it. */
export function indexKeyOf(def: IndexDef<Stored>, object: Stored): IndexKey | undefined {
  const key = def.key(object);
  return key === undefined ? undefined : normalizeKey(def, key);
}

/** A key as the index stores it: lower-cased when the index ignores case. */
export function normalizeKey(def: IndexDef<Stored>, key: IndexKey): IndexKey {
  return def.caseInsensitive && typeof key === "string" ? key.toLowerCase() : key;
}
