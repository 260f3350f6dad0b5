import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonical, sortKeys } from "./canonical.ts";

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

test("sortKeys orders any keys as Array.prototype.sort does, in place, below and above the insertion-sort bound", () => {
  const keys = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.constantFrom("a", "B", "_", "10", "9", "é", "😀"));
  fc.assert(fc.property(fc.array(keys, { maxLength: 80 }), (input) => {
    const mine = [...input];
    assert.equal(sortKeys(mine), mine);
    assert.deepEqual(mine, [...input].sort());
  }), { numRuns: 500 });
});

test("canonical copies deeply with sorted keys, frozen, undefined fields dropped and byte arrays copied", () => {
  const data = new Uint8Array([1, 2, 3]);
  const input = { z: 1, spec: { labels: { b: "2", a: "1", c: "3" }, data, gone: undefined }, a: [{ y: 1, x: 2 }] };
  const out = canonical(input);
  assert.deepEqual(Object.keys(out), ["a", "spec", "z"]);
  assert.deepEqual(Object.keys(out.spec), ["data", "labels"]);
  assert.deepEqual(Object.keys(out.spec.labels), ["a", "b", "c"]);
  assert.deepEqual(Object.keys(out.a[0]!), ["x", "y"]);
  assert.ok(Object.isFrozen(out) && Object.isFrozen(out.spec) && Object.isFrozen(out.spec.labels) && Object.isFrozen(out.a) && Object.isFrozen(out.a[0]));
  assert.notEqual(out.spec.data, data);
  assert.deepEqual(out.spec.data, data);
  // The caller's object is neither frozen nor changed.
  assert.ok(!Object.isFrozen(input.spec));
  assert.deepEqual(Object.keys(input.spec.labels), ["b", "a", "c"]);
});

test("maps built in different orders give equal canonical objects, key order included", () => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.string(), { maxKeys: 40 }), (labels) => {
    const reversed = Object.fromEntries(Object.entries(labels).reverse());
    assert.equal(JSON.stringify(canonical({ labels })), JSON.stringify(canonical({ labels: reversed })));
  }));
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
