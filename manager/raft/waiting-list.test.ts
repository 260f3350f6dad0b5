import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { assertItemsDieYoung } from "../../test/old-generation.ts";
import { WaitingList } from "./waiting-list.ts";

/** One step: add the next key, or take the item `offset` keys after the oldest one added (may be gone or never added). */
type Step = { op: "add" } | { op: "take"; offset: number };

test("a waiting list holds what a Map would, in key order, through growth and the counter's wrap at 2^32", () => {
  const step = fc.oneof(fc.constant<Step>({ op: "add" }), fc.record({ op: fc.constant("take" as const), offset: fc.nat(300) }));
  const firstKey = fc.oneof(fc.constant(1), fc.constant(2 ** 32 - 40), fc.nat(2 ** 32 - 1));
  fc.assert(fc.property(firstKey, fc.array(step, { maxLength: 600 }), (first, steps) => {
    const list = new WaitingList<string>();
    const model = new Map<number, string>();
    let next = first;
    let firstAdded = first;
    for (const s of steps) {
      if (s.op === "add") {
        list.add(next, `v${next}`);
        model.set(next, `v${next}`);
        next = (next + 1) >>> 0;
      } else {
        const key = (firstAdded + s.offset) >>> 0;
        assert.equal(list.take(key), model.get(key), `take ${key}`);
        model.delete(key);
      }
      assert.equal(list.size, model.size);
      if (model.size === 0) firstAdded = next;
    }
    // Map keeps insertion order, which is key order here.
    assert.deepEqual([...list.entries()], [...model.entries()]);
  }), { numRuns: 300 });
});

test("an item left waiting while thousands come and go keeps its place; a key out of order is refused", () => {
  const list = new WaitingList<number>();
  list.add(7, 7);
  for (let key = 8; key < 5_000; key++) {
    list.add(key, key);
    assert.equal(list.take(key), key);
  }
  assert.deepEqual([...list.entries()], [[7, 7]]);
  assert.equal(list.take(7), 7);
  assert.equal(list.take(7), undefined, "taken once");
  assert.equal(list.size, 0);
  list.add(100, 100);
  assert.throws(() => list.add(102, 102), /key 102 does not follow 100/);
});

test("items that leave a waiting list die young; in a Map they would have been kept into the old generation", () => {
  const list = new WaitingList<object>();
  assertItemsDieYoung("a waiting list", { put: (k, item) => list.add(k, item), remove: (k) => void list.take(k) });
});
