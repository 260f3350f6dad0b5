/** Random identifiers: node ids, cluster ids and join-token secrets. */
import { randomFillSync } from "node:crypto";

/** RFC 4648 base32 in lower case: ids stay readable and are safe in file names and CNs. */
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** Length of an id: 25 base32 characters carry 125 random bits, as Docker's 25-character ids. */
export const ID_LENGTH = 25;

/**
 * Random bytes drawn from the system CSPRNG a pool at a time, as Node's randomUUID does: one
 * call into the kernel per 160 ids rather than per id (an id per write made that call a
 * measurable share of a leader's time). Bytes are used once, then the pool is refilled.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
/** Scratch space for the characters of one `randomBase32` result. */
const chars = Buffer.alloc(pool.length);

/** `length` random base32 characters (5 random bits each). */
export function randomBase32(length: number): string {
  if (length > pool.length) throw new RangeError(`randomBase32: at most ${pool.length} characters, asked for ${length}`);
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  // Characters go into a scratch buffer, then become one string: appending them one by one made
  // a new string per character, most of what a write allocated for its id.
  for (let i = 0; i < length; i++) chars[i] = BASE32_CODES[pool[poolOffset + i]! & 31]!;
  poolOffset += length;
  return chars.toString("latin1", 0, length);
}

/** The character codes of {@link BASE32}. */
const BASE32_CODES = Buffer.from(BASE32, "latin1");

/**
 * A new random id for a node or a cluster. With 125 random bits two ids never collide in
 * practice, so an id, once given, is never given again.
 */
export function newId(): string {
  return randomBase32(ID_LENGTH);
}
