/**
 * `npm run bench:raft`: replicated writes end to end. Three shoal managers as processes on
 * loopback (test/bench/shoal-target.ts); a load generator (test/bench/load.ts) writes 256-byte
 * values through the store, as CreateConfig calls to the leader over mutual TLS, with 1, 64 and
 * 256 concurrent writers. When `etcd` is on the PATH, a three-member etcd on loopback
 * (test/bench/etcd-target.ts) runs beside it and gets the same load in the same run.
 *
 * This machine is shared and its speed drifts by tens of percent within a minute, so the two
 * systems take turns: each round runs every level on both, one system right after the other (the
 * order alternates between rounds), and the summary compares medians over the rounds. One JSON
 * line per level, system and round (writes per second; p50, p90, p99 and p99.9 latency; the
 * longest stall, the longest time in which no write completed; in how many 100 ms windows the
 * writes at or above the p99 started; CPU per write); then one per level and system with the
 * medians (`"round": "median"`); then one per level with the ratios of the medians (shoal /
 * etcd). Everything started is stopped and removed, also on failure or Ctrl-C.
 *
 * The goal (issue 3): at least etcd's throughput at 64 and 256 writers, with a p99 no worse.
 *
 * BENCH_ROUNDS (default 3) rounds; BENCH_SECONDS (default 5) is the measured time per level,
 * after BENCH_WARMUP_SECONDS (default 1); BENCH_LEVELS=64,256 runs some levels only;
 * BENCH_PROFILE_DIR makes each shoal manager write a CPU profile there; BENCH_GC_TRACE=1 runs
 * the shoal managers with `node --trace-gc-nvp` and prints, after each of shoal's levels, what
 * the collector did in each manager during it (test/bench/gc-trace.ts).
 */
import { randomBytes } from "node:crypto";
import { etcdMissing, startEtcd } from "./etcd-target.ts";
import { cleanUpOnInterrupt } from "./interrupt.ts";
import { quantile, ratio, runLoad } from "./load.ts";
import type { LoadResult, Target } from "./load.ts";
import { startShoal } from "./shoal-target.ts";

/** Concurrent writers per level. */
const LEVELS = (process.env.BENCH_LEVELS ?? "1,64,256").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1) * 1000;
/** The size of every value written. */
const VALUE_BYTES = 256;
/** A bound on the writes of one level, whatever the time: far above what 2 cores can commit in it. */
const MAX_WRITES_PER_LEVEL = 1_000_000;
/** The figures of a level whose median the summary gives. */
const FIGURES = ["writesPerSec", "p50ms", "p90ms", "p99ms", "p999ms", "longestStallMs", "p99Windows", "serverCpuUsPerWrite", "clientCpuUsPerWrite"] as const;

/** The systems running, so that a signal can stop them. */
const running: Target[] = [];

/** Stops every system started, whatever happens to each. */
async function closeAll(): Promise<void> {
  await Promise.allSettled(running.splice(0).map((t) => t.close()));
}

/** The median of each figure over `results`, and the errors summed. */
function medians(results: LoadResult[]): Record<(typeof FIGURES)[number] | "errors", number> {
  const median = (f: (typeof FIGURES)[number]): number => quantile(results.map((r) => r[f]).sort((a, b) => a - b), 0.5);
  const figures = Object.fromEntries(FIGURES.map((f) => [f, median(f)])) as Record<(typeof FIGURES)[number], number>;
  return { ...figures, errors: results.reduce((sum, r) => sum + r.errors, 0) };
}

async function main(): Promise<void> {
  cleanUpOnInterrupt(closeAll);
  try {
    running.push(await startShoal());
    const missing = etcdMissing();
    if (missing) console.log(JSON.stringify({ system: "etcd", skipped: `comparison with etcd skipped: ${missing}` }));
    else running.push(await startEtcd());
    const targets = [...running];
    const results = new Map(targets.map((t) => [t.system, new Map(LEVELS.map((w) => [w, [] as LoadResult[]]))]));
    const value = randomBytes(VALUE_BYTES);
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? targets : [...targets].reverse();
      for (const writers of LEVELS) {
        for (const target of order) {
          await target.gcSince?.(); // what came before this level is not counted in it
          const result = await runLoad({
            writers, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, maxWrites: MAX_WRITES_PER_LEVEL,
            write: (seq) => target.write(`r${round}w${writers}`, seq, value), serverPids: () => target.pids(),
          });
          results.get(target.system)!.get(writers)!.push(result);
          console.log(JSON.stringify({ system: target.system, round, ...result }));
          const gc = await target.gcSince?.();
          if (gc) console.log(JSON.stringify({ system: target.system, round, writers, gc }));
        }
      }
    }
    for (const writers of LEVELS) {
      const summary = new Map(targets.map((t) => [t.system, medians(results.get(t.system)!.get(writers)!)]));
      for (const [system, m] of summary) console.log(JSON.stringify({ system, round: "median", rounds: ROUNDS, writers, ...m }));
      const s = summary.get("shoal");
      const e = summary.get("etcd");
      if (!s || !e) continue;
      console.log(JSON.stringify({
        system: "shoal/etcd", writers, throughputRatio: ratio(s.writesPerSec, e.writesPerSec), p99Ratio: ratio(s.p99ms, e.p99ms),
        longestStallRatio: ratio(s.longestStallMs, e.longestStallMs),
        serverCpuRatio: ratio(s.serverCpuUsPerWrite, e.serverCpuUsPerWrite),
      }));
    }
  } finally {
    await closeAll();
  }
}

await main();
