/**
 * Copies of small byte arrays packed into shared slabs, instead of a buffer each.
 *
 * Every byte array of a stored object is a copy (canonical.ts), and a store of configs or
 * secrets holds one per object. A buffer of its own costs V8 two heap objects, a record of the
 * backing memory that every collection has to sweep, and a block of the C library's memory; a
 * copy in a slab costs one heap object. For 250,000 configs of 256 bytes, `npm run
 * bench:snapshot` measured a heap of 124 MB instead of 146 and a forced full collection of 52 ms
 * instead of 92 (test/bench/HISTORY.md, with what it did to the writes' tail).
 *
 * A slab lives as long as any copy in it, so a small copy can hold at most a slab's worth of
 * memory once the others are gone, as in Node's own pool of small Buffers. A copy's `buffer` is
 * the whole slab, with other objects' bytes in it: read a copy through its own offset and length
 * (as every codec here does), and never transfer or structured-clone its buffer.
 */

/** Byte arrays longer than this get a buffer of their own. */
export const SLAB_MAX_COPY_BYTES = 1024;
/** The size of each slab. */
export const SLAB_BYTES = 8 * 1024;

let slab = new Uint8Array(0);
let used = 0;

/** A copy of `bytes` that shares nothing with it, in a shared slab when it is small. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.byteLength;
  if (length > SLAB_MAX_COPY_BYTES) return new Uint8Array(bytes);
  if (used + length > slab.byteLength) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const copy = slab.subarray(used, used + length);
  copy.set(bytes);
  used += length;
  return copy;
}
