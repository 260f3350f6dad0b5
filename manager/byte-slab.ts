/**
 * Copies of byte arrays that live long: the store's (every byte array of a stored object is a
 * copy, store/canonical.ts) and the Raft log's entries in memory (raft/storage.ts). Small copies
 * are packed into slabs instead of a buffer each, and all of them are in SharedArrayBuffers.
 *
 * Why SharedArrayBuffers: V8 counts the memory of ordinary ArrayBuffers as "external", and every
 * 64 MB by which that grows starts a full collection, which marks the whole heap. A leader taking
 * 20,000 writes a second grew it by about 25 MB/s with the store's bytes and the log's entries
 * (`process.memoryUsage()`, one-off), so with a store of several hundred thousand objects it spent
 * a collection's marking of a heap of hundreds of MB every few seconds. SharedArrayBuffers are not
 * counted: with both kinds of copies in them, the third round at 256 writers of `npm run
 * bench:raft` (the largest store) went from lost to etcd in four runs of five to won in three of
 * three (README, Benchmarks, with the one-off measurements in turns). Node's Buffer
 * methods, `crypto`'s hashes, `fs`, TextDecoder, DataView and protobufjs take views of a
 * SharedArrayBuffer; WebCrypto (`crypto.subtle`) refuses them: copy first there.
 *
 * A store of configs or secrets holds one copy per object. A buffer of its own costs V8 two heap objects, a record of the
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

let slab: Uint8Array = new Uint8Array(0);
let used = 0;

/** A copy of `bytes` that shares nothing with it, in a SharedArrayBuffer: a slab shared with other copies when it is small. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const length = bytes.byteLength;
  if (length > SLAB_MAX_COPY_BYTES) {
    const own = new Uint8Array(new SharedArrayBuffer(length));
    own.set(bytes);
    return own;
  }
  if (used + length > slab.byteLength) {
    slab = new Uint8Array(new SharedArrayBuffer(SLAB_BYTES));
    used = 0;
  }
  const copy = slab.subarray(used, used + length);
  copy.set(bytes);
  used += length;
  return copy;
}
