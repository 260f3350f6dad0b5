import { test } from "node:test";
import assert from "node:assert/strict";
import { BUGS } from "./bugs.ts";
import type { BugName } from "./bugs.ts";
import { parseSimArgs, replayCommand, runSchedules } from "./main.ts";
import { runSchedule } from "./simulation.ts";

test("500 fault schedules (400 with 3 nodes, 100 with 5) find no safety, linearizability or liveness violation", () => {
  for (const [nodes, schedules, seed] of [[3, 400, 1], [5, 100, 100_001]] as const) {
    const summary = runSchedules({ schedules, seed, nodes, verbose: false });
    const first = summary.firstFailure;
    assert.equal(
      summary.failedSchedules, 0,
      first ? `${first.violations[0]}\nreplay: ${replayCommand(first.seed, { schedules: 1, seed: first.seed, nodes, verbose: true })}` : "",
    );
    assert.equal(summary.schedules, schedules);
  }
});

test("the schedules really exercise faults, elections, membership changes, transfers and snapshots", () => {
  const totals = { leaders: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0, transfers: 0, ops: 0 };
  for (let seed = 1; seed <= 40; seed++) {
    const r = runSchedule({ seed, nodes: 3 });
    for (const k of ["leaders", "crashes", "partitions", "confChanges", "snapshotsSent", "transfers"] as const) totals[k] += r.stats[k];
    totals.ops += r.completedOps;
  }
  assert.ok(totals.leaders > 80, `leaders ${totals.leaders}`);
  assert.ok(totals.crashes > 80, `crashes ${totals.crashes}`);
  assert.ok(totals.partitions > 40, `partitions ${totals.partitions}`);
  assert.ok(totals.confChanges > 10, `membership changes ${totals.confChanges}`);
  assert.ok(totals.snapshotsSent > 10, `snapshots sent ${totals.snapshotsSent}`);
  assert.ok(totals.transfers > 10, `leadership transfers ${totals.transfers}`);
  assert.ok(totals.ops > 2000, `completed client operations ${totals.ops}`);
});

test("a schedule is reproducible from its seed", () => {
  const a = runSchedule({ seed: 42, nodes: 5 });
  const b = runSchedule({ seed: 42, nodes: 5 });
  assert.deepEqual(a, b);
});

for (const bug of Object.keys(BUGS) as BugName[]) {
  test(`the checks catch the planted bug "${bug}" (${BUGS[bug]}) within 500 schedules`, () => {
    const summary = runSchedules({ schedules: 500, seed: 1, nodes: 3, bug, verbose: false });
    assert.ok(summary.violations > 0, `bug ${bug} went unnoticed in ${summary.schedules} schedules`);
    assert.equal(summary.failedSchedules, 1, "stops at the first failing schedule");
  });
}

test("sim arguments: defaults, and clear errors for bad input", () => {
  assert.deepEqual(parseSimArgs([]), { schedules: 100, seed: 1, nodes: 3, verbose: false });
  assert.deepEqual(parseSimArgs(["--schedules", "7", "--seed", "9", "--nodes", "5", "--inject-bug", "forget-vote"]),
    { schedules: 7, seed: 9, nodes: 5, bug: "forget-vote", verbose: false });
  assert.throws(() => parseSimArgs(["--nodes", "4"]), /--nodes must be 3 or 5, got 4/);
  assert.throws(() => parseSimArgs(["--schedules", "many"]), /--schedules needs a non-negative integer, got many/);
  assert.throws(() => parseSimArgs(["--inject-bug", "nope"]), /unknown bug "nope"[\s\S]*forget-vote/);
  assert.throws(() => parseSimArgs(["--fast"]), /unknown argument "--fast"/);
});
