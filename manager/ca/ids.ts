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

/** `length` random base32 characters (5 random bits each). */
export function randomBase32(length: number): string {
  if (length > pool.length) throw new RangeError(`randomBase32: at most ${pool.length} characters, asked for ${length}`);
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let out = "";
  for (let i = poolOffset; i < poolOffset + length; i++) out += BASE32[pool[i]! & 31];
  poolOffset += length;
  return out;
}

/**
 * A new random id for a node or a cluster. With 125 random bits two ids never collide in
 * practice, so an id, once given, is never given again.
 */
export function newId(): string {
  return randomBase32(ID_LENGTH);
}
