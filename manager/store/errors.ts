/**
 * The errors the store raises: one class with a stable `code`, so callers branch on the code
 * and people read the message. Each constructor below builds the one message for its case, so
 * a write checked when it is staged and again when it is applied fails with the same words.
 */

/** The stable codes of {@link StoreError}. */
export const StoreErrorCode = {
  /** A write was made from a version that is no longer the object's current one. */
  CONFLICT: "CONFLICT",
  /** An update or delete of an object that does not exist. */
  NOT_FOUND: "NOT_FOUND",
  /** A create of an id that exists (or existed), or a name that a unique index already holds. */
  ALREADY_EXISTS: "ALREADY_EXISTS",
  /** An object or transaction that breaks the store's rules: missing id, empty required name... */
  INVALID: "INVALID",
  /** A watcher fell too far behind and was closed; it must subscribe again. */
  SLOW_WATCHER: "SLOW_WATCHER",
} as const;
/** One of {@link StoreErrorCode}. */
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** An error from the store; `message` is written for the user. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  /**
   * @param code what went wrong, as a stable code
   * @param message what was wrong, naming the table and object
   */
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
  }
}

/** Which write an error is about, in the words of its message. */
export type WriteVerb = "create" | "update" | "delete";

/** A stale write: `update out of sequence: node X has version 12, the update was made from version 10`. */
export function conflict(verb: WriteVerb, table: string, id: string, current: number, read: number): StoreError {
  return new StoreError(
    StoreErrorCode.CONFLICT,
    `${verb} out of sequence: ${table} ${id} has version ${current}, the ${verb} was made from version ${read}`,
  );
}

/** An update or delete of a missing object. */
export function notFound(table: string, id: string): StoreError {
  return new StoreError(StoreErrorCode.NOT_FOUND, `${table} ${id} not found`);
}

/** A create of an id that is, or was, in use. */
export function alreadyExists(table: string, id: string): StoreError {
  return new StoreError(StoreErrorCode.ALREADY_EXISTS, `${table} ${id} already exists`);
}

/** A unique index already holding the key another object wants. */
export function keyTaken(table: string, id: string, index: string, key: string | number, holder: string): StoreError {
  return new StoreError(
    StoreErrorCode.ALREADY_EXISTS,
    `${table} ${id}: ${index} ${JSON.stringify(key)} is already used by ${table} ${holder}`,
  );
}

/** A broken rule; `what` says which, e.g. `spec.annotations.name is empty`. */
export function invalid(table: string, id: string, what: string): StoreError {
  const subject = id === "" ? table : `${table} ${id}`;
  return new StoreError(StoreErrorCode.INVALID, `invalid ${subject}: ${what}`);
}
