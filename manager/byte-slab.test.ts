import { test } from "node:test";
import assert from "node:assert/strict";
import { getHeapStatistics } from "node:v8";
import { copyBytes, SLAB_BYTES, SLAB_MAX_COPY_BYTES } from "./byte-slab.ts";

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

test("small copies share slabs, never overlap, and share nothing with what they copy", () => {
  const sources = Array.from({ length: 200 }, (_, i) => bytes(100 + (i % 50), i));
  const copies = sources.map(copyBytes);
  copies.forEach((copy, i) => assert.deepEqual(copy, sources[i]));
  // 200 copies of at most 149 bytes: a handful of slabs, not a buffer each.
  const buffers = new Set(copies.map((c) => c.buffer));
  assert.ok(buffers.size <= Math.ceil((200 * 149) / SLAB_BYTES) + 1, `${buffers.size} buffers for 200 copies`);
  // Writing one copy changes neither its neighbours in the slab nor its source.
  copies[10]!.fill(0xff);
  assert.deepEqual(copies[9], sources[9]);
  assert.deepEqual(copies[11], sources[11]);
  assert.deepEqual(sources[10], bytes(sources[10]!.byteLength, 10));
  sources[20]!.fill(0xee);
  assert.deepEqual(copies[20], bytes(copies[20]!.byteLength, 20));
});

test("a copy larger than the limit gets a buffer of its own; an empty one copies as empty", () => {
  const large = copyBytes(bytes(SLAB_MAX_COPY_BYTES + 1, 7));
  assert.equal(large.byteOffset, 0);
  assert.equal(large.buffer.byteLength, SLAB_MAX_COPY_BYTES + 1);
  assert.deepEqual(large, bytes(SLAB_MAX_COPY_BYTES + 1, 7));
  assert.equal(copyBytes(new Uint8Array()).byteLength, 0);
});

test("copies live in SharedArrayBuffers, which do not grow V8's external memory (that starts full collections)", () => {
  const external = (): number => getHeapStatistics().external_memory;
  const small = bytes(300, 1);
  const large = bytes(4096, 2);
  const before = external();
  const kept = Array.from({ length: 4000 }, (_, i) => copyBytes(i % 3 === 0 ? large : small));
  const grown = external() - before;
  assert.ok(kept.every((c) => c.buffer instanceof SharedArrayBuffer));
  // About 6 MB were copied; ordinary ArrayBuffers would have grown it by as much.
  assert.ok(grown < 512 * 1024, `external memory grew by ${grown} bytes`);
  const plain = Array.from({ length: 1000 }, () => new Uint8Array(4096));
  assert.ok(external() - before - grown >= 3_000_000, "ordinary buffers do count (the check can fail)");
  assert.equal(plain.length + kept.length, 5000);
});
