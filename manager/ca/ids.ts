/** Random identifiers: node ids, cluster ids and join-token secrets. */
import { randomBytes } from "node:crypto";

/** RFC 4648 base32 in lower case: ids stay readable and are safe in file names and CNs. */
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** Length of an id: 25 base32 characters carry 125 random bits, as Docker's 25-character ids. */
export const ID_LENGTH = 25;

/** `length` random base32 characters (5 random bits each). */
export function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += BASE32[byte & 31];
  return out;
}

/**
 * A new random id for a node or a cluster. With 125 random bits two ids never collide in
 * practice, so an id, once given, is never given again.
 */
export function newId(): string {
  return randomBase32(ID_LENGTH);
}
