import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../raft/random.ts";
import { Slices, sortInSlices } from "./sort-in-slices.ts";

test("sorting in slices gives the plain sort's order, for every size around the run boundaries", async () => {
  const random = seededRandom(7);
  for (const size of [0, 1, 2, 9, 10, 11, 19, 20, 21, 99, 100, 101, 1_000]) {
    const items = Array.from({ length: size }, (_, i) => ({ id: `${Math.floor(random() * 1e9).toString(36)}-${i}` }));
    const before = [...items];
    const sorted = await sortInSlices(items, (o) => o.id, new Slices(), 10);
    assert.deepEqual(sorted.map((o) => o.id), items.map((o) => o.id).sort(), `${size} items`);
    assert.deepEqual(items, before, "the input is left as it was");
  }
});

test("a slice ends when it has had its time, whatever the number of steps, and the next starts after the pause", async () => {
  let now = 0;
  const slices = new Slices(() => now);
  // Cheap steps: thousands of them fit in one slice while the clock stands still.
  for (let i = 0; i < 10_000; i++) assert.equal(slices.due(), false);
  now = 1.9;
  for (let i = 0; i < 1_000; i++) assert.equal(slices.due(), false, "not before 2 ms of work");
  now = 2;
  let steps = 0;
  while (!slices.due()) steps++;
  assert.ok(steps < 64, `the clock is read at least every 64 steps (${steps} more were counted)`);
  // One expensive step counts for many: a run sorted in one go.
  now = 3;
  await slices.pause();
  assert.equal(slices.pauses, 1);
  now = 4.9;
  assert.equal(slices.due(512), false, "the time of the new slice starts after the pause");
  now = 5;
  assert.equal(slices.due(512), true);
});

test("the pause after a slice is nineteen times the slice's work: background work takes a twentieth of the time", async () => {
  let now = 0;
  const slices = new Slices(() => now);
  const timedPause = async (): Promise<number> => {
    const t0 = performance.now();
    await slices.pause();
    return performance.now() - t0;
  };
  // A timer counts from the event loop's cached time, which may be a few ms old when it is set:
  // the bounds leave room for that, and a third (4 and 8 ms of pause) is far below them.
  now = 2; // a slice of 2 ms of work
  const afterTwo = await timedPause();
  assert.ok(afterTwo >= 28, `2 ms of work, then 38 ms of pause (${afterTwo.toFixed(1)} ms)`);
  now = 6; // a slice that ran long, 4 ms
  const afterFour = await timedPause();
  assert.ok(afterFour >= 66, `4 ms of work, then 76 ms of pause (${afterFour.toFixed(1)} ms)`);
});

test("a large sort lets the event loop run between its slices and takes a small share of the time", async () => {
  const items = Array.from({ length: 100_000 }, (_, i) => ({ id: String((i * 7919) % 100_000).padStart(6, "0") }));
  let turns = 0;
  const counting = setInterval(() => turns++, 0);
  const slices = new Slices();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const sorted = await sortInSlices(items, (o) => o.id, slices);
    assert.equal(sorted[0]!.id, "000000");
    assert.equal(sorted[99_999]!.id, "099999");
  } finally {
    clearInterval(counting);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  assert.ok(slices.pauses >= 5, `the sort paused ${slices.pauses} times`);
  assert.ok(turns >= slices.pauses, `timers ran ${turns} times during the sort's ${slices.pauses} pauses`);
  // A twentieth, plus the counting timer's turns, stays well below; a third (the pacing before 2026-12-07) measured 0.45.
  assert.ok(cpuMs / wallMs < 0.2, `the sort used ${cpuMs.toFixed(0)} ms of CPU in ${wallMs.toFixed(0)} ms`);
});
