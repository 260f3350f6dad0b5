import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../raft/random.ts";
import { sortInSlices } from "./sort-in-slices.ts";

test("sorting in slices gives the plain sort's order, for every size around the slice boundaries", async () => {
  const random = seededRandom(7);
  for (const size of [0, 1, 2, 9, 10, 11, 19, 20, 21, 99, 100, 101, 1_000]) {
    const items = Array.from({ length: size }, (_, i) => ({ id: `${Math.floor(random() * 1e9).toString(36)}-${i}` }));
    const before = [...items];
    const sorted = await sortInSlices(items, (o) => o.id, 10);
    assert.deepEqual(sorted.map((o) => o.id), items.map((o) => o.id).sort(), `${size} items`);
    assert.deepEqual(items, before, "the input is left as it was");
  }
});

test("a large sort lets the event loop run between its slices", async () => {
  const items = Array.from({ length: 20_000 }, (_, i) => ({ id: String((i * 7919) % 20_000).padStart(6, "0") }));
  let turns = 0;
  const counting = setInterval(() => turns++, 0);
  try {
    const sorted = await sortInSlices(items, (o) => o.id, 1_000);
    assert.equal(sorted[0]!.id, "000000");
    assert.equal(sorted[19_999]!.id, "019999");
  } finally {
    clearInterval(counting);
  }
  assert.ok(turns >= 5, `timers ran ${turns} times during the sort`);
});
