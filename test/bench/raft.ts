/**
 * `npm run bench:raft`: replicated writes end to end. Three shoal managers as processes on
 * loopback (test/bench/shoal-target.ts); a load generator (test/bench/load.ts) writes 256-byte
 * values through the store, as CreateConfig calls to the leader over mutual TLS, with 1, 64 and
 * 256 concurrent writers; one JSON line per level. When `etcd` is on the PATH, a three-member
 * etcd on loopback gets the same load in the same run (test/bench/etcd-target.ts), then a line
 * per level with the ratios (shoal / etcd). Everything started is stopped and removed, also on
 * failure or Ctrl-C.
 *
 * The goal (issue 3): at least etcd's throughput at 64 and 256 writers, with a p99 no worse.
 *
 * BENCH_SECONDS (default 5) is the measured time per level, after BENCH_WARMUP_SECONDS (default 1);
 * BENCH_PROFILE_DIR makes each shoal manager write a CPU profile there.
 */
import { randomBytes } from "node:crypto";
import { etcdMissing, startEtcd } from "./etcd-target.ts";
import { runLoad } from "./load.ts";
import type { LoadResult, Target } from "./load.ts";
import { startShoal } from "./shoal-target.ts";

/** Concurrent writers per level; BENCH_LEVELS=64,256 runs some of them. */
const LEVELS = (process.env.BENCH_LEVELS ?? "1,64,256").split(",").map(Number);
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1) * 1000;
/** The size of every value written. */
const VALUE_BYTES = 256;
/** A bound on the writes of one level, whatever the time: far above what 2 cores can commit in it. */
const MAX_WRITES_PER_LEVEL = 1_000_000;

/** The target being driven, so that a signal can stop it. */
let current: Target | undefined;

/** Drives `target` at every level, printing a line per level; stops it afterwards. */
async function measure(target: Target): Promise<Map<number, LoadResult>> {
  current = target;
  const results = new Map<number, LoadResult>();
  try {
    const value = randomBytes(VALUE_BYTES);
    for (const writers of LEVELS) {
      const result = await runLoad({
        writers, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, maxWrites: MAX_WRITES_PER_LEVEL,
        write: (seq) => target.write(`w${writers}`, seq, value), serverPids: () => target.pids(),
      });
      results.set(writers, result);
      console.log(JSON.stringify({ system: target.system, ...result }));
    }
  } finally {
    current = undefined;
    await target.close();
  }
  return results;
}

/** `a / b` with two decimals. */
function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

async function main(): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping and cleaning up`);
      void (current?.close() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  const shoal = await measure(await startShoal());
  const missing = etcdMissing();
  if (missing) {
    console.log(JSON.stringify({ system: "etcd", skipped: `comparison with etcd skipped: ${missing}` }));
    return;
  }
  const etcd = await measure(await startEtcd());
  for (const writers of LEVELS) {
    const s = shoal.get(writers)!;
    const e = etcd.get(writers)!;
    console.log(JSON.stringify({
      system: "shoal/etcd", writers, throughputRatio: ratio(s.writesPerSec, e.writesPerSec), p99Ratio: ratio(s.p99ms, e.p99ms),
      serverCpuRatio: ratio(s.serverCpuUsPerWrite, e.serverCpuUsPerWrite),
    }));
  }
}

await main();
