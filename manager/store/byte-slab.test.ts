import { test } from "node:test";
import assert from "node:assert/strict";
import { copyBytes, SLAB_BYTES, SLAB_MAX_COPY_BYTES } from "./byte-slab.ts";
import { canonical } from "./canonical.ts";

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

test("stored objects' byte arrays are copies in slabs", () => {
  const data = bytes(256, 3);
  const a = canonical({ id: "a", spec: { data } });
  const b = canonical({ id: "b", spec: { data } });
  assert.notEqual(a.spec.data, data);
  assert.deepEqual(a.spec.data, data);
  assert.equal(a.spec.data.buffer, b.spec.data.buffer, "consecutive small copies share a slab");
  data.fill(9);
  assert.deepEqual(a.spec.data, bytes(256, 3), "the stored copy does not follow its source");
});

test("a short-lived object's byte arrays get buffers of their own, leaving the slabs to stored ones", () => {
  const data = bytes(256, 4);
  const staged = canonical({ id: "s", spec: { data } }, { shortLived: true });
  assert.deepEqual(staged.spec.data, data);
  assert.notEqual(staged.spec.data, data);
  assert.equal(staged.spec.data.buffer.byteLength, 256, "a buffer of its own");
  const stored = canonical({ id: "t", spec: { data } });
  assert.notEqual(stored.spec.data.buffer, staged.spec.data.buffer);
});
