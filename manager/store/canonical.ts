/**
 * Stored objects are canonical and immutable: every plain object's keys in sorted order and
 * everything frozen. Sorted keys make maps (labels) encode the same whatever order a writer
 * built them in, so equal states give equal snapshot bytes; freezing lets reads hand out the
 * stored objects themselves, and a caller that mutates one gets a TypeError instead of
 * silently corrupting the store. To change an object, write a changed copy.
 */

/** A deep copy of `value` with sorted object keys, frozen. Byte arrays are copied, not frozen (they cannot be). */
export function canonical<T>(value: T): T {
  return canonicalValue(value) as T;
}

function canonicalValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return Object.freeze(value.map(canonicalValue));
  const source = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(source).sort()) {
    if (source[key] !== undefined) copy[key] = canonicalValue(source[key]);
  }
  return Object.freeze(copy);
}
