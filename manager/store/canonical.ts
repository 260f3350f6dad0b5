/**
 * Stored objects are canonical and immutable: every plain object's keys in sorted order and
 * everything frozen. Sorted keys make maps (labels) encode the same whatever order a writer
 * built them in, so equal states give equal snapshot bytes; freezing lets reads hand out the
 * stored objects themselves, and a caller that mutates one gets a TypeError instead of
 * silently corrupting the store. To change an object, write a changed copy.
 */
import { copyBytes } from "../byte-slab.ts";

/**
 * A deep copy of `value` with sorted object keys, frozen. Byte arrays are copied, not frozen
 * (they cannot be): small ones into shared slabs (see byte-slab.ts) for an object that is
 * stored, each into a buffer of its own for one that lives only as long as a write
 * (`shortLived`), whose copies would keep slabs of stored bytes half dead.
 */
export function canonical<T>(value: T, options?: { shortLived?: boolean }): T {
  return canonicalValue(value, options?.shortLived ? copyIntoOwnBuffer : copyBytes) as T;
}

function copyIntoOwnBuffer(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function canonicalValue(value: unknown, copyBytesOf: (bytes: Uint8Array) => Uint8Array): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Uint8Array) return copyBytesOf(value);
  if (Array.isArray(value)) return Object.freeze(value.map((item: unknown) => canonicalValue(item, copyBytesOf)));
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of sortKeys(Object.keys(source))) {
    if (source[key] !== undefined) copy[key] = canonicalValue(source[key], copyBytesOf);
  }
  return Object.freeze(copy);
}

/** Above this many keys, `sortKeys` leaves the work to `Array.prototype.sort`. */
const INSERTION_SORT_MAX_KEYS = 32;

/**
 * Sorts `keys` in place, in the order of `Array.prototype.sort` (UTF-16 code units), and returns
 * it. Every write canonicalizes each of its objects, which mostly have a handful of keys, often
 * already in order: an insertion sort does that without the scratch memory the built-in sort
 * allocates per call, which was the largest share of a busy manager's allocations.
 */
export function sortKeys(keys: string[]): string[] {
  if (keys.length > INSERTION_SORT_MAX_KEYS) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
