import { test } from "node:test";
import assert from "node:assert/strict";
import { ID_LENGTH, newId, randomBase32 } from "./ids.ts";

test("ids are 25 lower-case base32 characters and never repeat, across many refills of the random pool", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5_000; i++) {
    const id = newId();
    assert.match(id, /^[a-z2-7]{25}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 5_000);
  assert.equal(ID_LENGTH, 25);
});

test("random strings use the whole alphabet, roughly evenly", () => {
  const counts = new Map<string, number>();
  for (const c of randomBase32(3_200)) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 32);
  for (const [c, n] of counts) assert.ok(n > 40 && n < 180, `character ${c} appeared ${n} times in 3,200 (expected about 100)`);
});

test("asking for more random characters than the pool holds is refused, saying the limit", () => {
  assert.throws(() => randomBase32(10_000), /at most 4096 characters, asked for 10000/);
});
