import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { runLoad } from "./load.ts";

/** A system answering each write in about `writeMs`, except that none answers during `[pauseFrom, pauseTo)` ms after the start. */
function fakeSystem(writeMs: number, pauseFrom = Infinity, pauseTo = Infinity): (seq: number) => Promise<void> {
  const start = performance.now();
  return async () => {
    await sleep(writeMs);
    const now = performance.now() - start;
    if (now >= pauseFrom && now < pauseTo) await sleep(pauseTo - now);
  };
}

const LEVEL = { writers: 8, warmupMs: 100, durationMs: 900, maxWrites: 1_000_000, serverPids: () => [] };

test("a pause of the whole system shows as the longest stall, the percentiles as the spread of the writes", async () => {
  // Every writer waits through the same 300 ms, from 400 ms after the start (300 into the measured period).
  const paused = await runLoad({ ...LEVEL, write: fakeSystem(5, 400, 700) });
  assert.ok(paused.longestStallMs >= 250 && paused.longestStallMs < 600, `a 300 ms pause gave a longest stall of ${paused.longestStallMs} ms`);
  assert.ok(paused.p50ms >= 4 && paused.p50ms < 50, `p50 ${paused.p50ms} ms for writes of 5 ms`);
  assert.ok(paused.p50ms <= paused.p90ms && paused.p90ms <= paused.p99ms && paused.p99ms <= paused.p999ms, JSON.stringify(paused));
  assert.ok(paused.p999ms >= 250, `the writes caught in the pause are the slowest: p99.9 ${paused.p999ms} ms`);

  const steady = await runLoad({ ...LEVEL, write: fakeSystem(5) });
  assert.ok(steady.longestStallMs < 150, `writes of 5 ms, eight at a time, gave a longest stall of ${steady.longestStallMs} ms`);
  assert.equal(steady.errors, 0);
});

test("a system that stops answering before the end stalls until the end", async () => {
  // Writes answer at once until 600 ms after the start, then hang past the measured period.
  const hanging = await runLoad({ ...LEVEL, durationMs: 700, write: fakeSystem(5, 600, 1_200) });
  assert.ok(hanging.longestStallMs >= 150, `no answer in the last 200 ms of the period gave a longest stall of ${hanging.longestStallMs} ms`);
});

test("the slowest writes of a pause fall in a few windows, those of ordinary spread in many", async () => {
  const paused = await runLoad({ ...LEVEL, write: fakeSystem(5, 400, 700) });
  // The eight writes caught in the pause started together; the two or so others of the slowest 1% anywhere.
  assert.ok(paused.p99Windows >= 1 && paused.p99Windows <= 3, `one pause gave the slowest 1% in ${paused.p99Windows} windows of 100 ms`);
  // Ordinary spread: one write in fifty takes 50 to 100 ms, at random times, the others 2 to 8 ms.
  // The slowest 1% are the longest of those, whenever they started: throughout the nine windows
  // of the period. (Latencies of 2 to 8 ms alone would leave the slowest 1% to this process's own
  // hiccups, which bunch them, as a busy machine running other tests showed.)
  const spread = await runLoad({ ...LEVEL, write: () => sleep(Math.random() < 0.02 ? 50 + 50 * Math.random() : 2 + 6 * Math.random()) });
  assert.ok(spread.p99Windows >= 5, `writes with a random one in fifty slow gave the slowest 1% in only ${spread.p99Windows} windows`);
});
