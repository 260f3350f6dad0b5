/**
 * A closed-loop load generator: N writers, each sending its next write as soon as the previous
 * one answered, for a warm-up and then a measured period, bounded in time and in count; it stops
 * by itself. The same generator drives every system compared, so the figures differ only by the
 * system behind `write`. Besides throughput and latency it reports CPU time per write, of the
 * system's processes and of the client, read from /proc (Linux).
 */
import { readFileSync } from "node:fs";
import type { GcSummary } from "./gc-trace.ts";

/** A system the generator writes to. */
export interface Target {
  /** Which system, as the JSON lines name it. */
  readonly system: string;
  /** One write of `value` under a key unique to `seq` within `run`. */
  write(run: string, seq: number, value: Uint8Array): Promise<void>;
  /** Stops everything it started and removes its data. */
  close(): Promise<void>;
  /** The processes of the system (not the client), whose CPU time is counted per write. */
  pids(): number[];
  /**
   * When the benchmark traces garbage collection (BENCH_GC_TRACE=1) and the system supports it:
   * what the collector did in each of its processes since the previous call.
   */
  gcSince?(): Promise<ProcessGc[]>;
}

/** What the garbage collector did in one process of a system over a period. */
export interface ProcessGc extends GcSummary {
  /** The process, as the system names it. */
  process: string;
  /** Whether it was the leader at the end of the period. */
  leader: boolean;
}

/** How one level of load runs. */
export interface LoadOptions {
  /** Concurrent writers. */
  writers: number;
  /** Writes during this first period are not counted (connections, caches, JIT). */
  warmupMs: number;
  /** The measured period, after the warm-up. */
  durationMs: number;
  /** At most this many writes in all, whatever the time (a bound, should a system answer instantly). */
  maxWrites: number;
  /** One write; `seq` is unique within the run. Rejects when the write failed. */
  write: (seq: number) => Promise<void>;
  /** The processes of the system under load, whose CPU time over the measured period is reported. */
  serverPids: () => number[];
}

/** What one level measured: writes that completed within the measured period. */
export interface LoadResult {
  writers: number;
  writesPerSec: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  p999ms: number;
  /**
   * The longest time within the measured period in which no write completed, in ms: a pause of
   * the whole system (a collector's pause in a process every write goes through, a disk stall)
   * shows here, where it would hide among the slow writes of the percentiles.
   */
  longestStallMs: number;
  /**
   * In how many 100 ms windows of the measured period the writes at or above the p99 started.
   * A handful means that a few stalls (collector pauses, slow disk writes, in any process a
   * write goes through) made the p99, so it moves from run to run with when and how long they
   * were; many means that it is the spread of ordinary writes.
   */
  p99Windows: number;
  /** Writes that failed during the measured period. */
  errors: number;
  /** The first failure's message, to say why when there were errors. */
  firstError?: string;
  /** CPU time (user + system, all threads) of the system's processes per completed write, in µs. */
  serverCpuUsPerWrite: number;
  /** CPU time of this process (the client and the generator) per completed write, in µs. */
  clientCpuUsPerWrite: number;
}

/** Microseconds of CPU (user + system, every thread) a process has used, from /proc; 0 when it is gone. */
function processCpuUs(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start at the state, field 3; utime and stime are 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1e6;
  } catch {
    return 0;
  }
}

/** The kernel's clock ticks per second for /proc times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time used so far by `pids` and by this process. */
function cpuNow(pids: number[]): { server: number; client: number } {
  const own = process.cpuUsage();
  return { server: pids.reduce((sum, pid) => sum + processCpuUs(pid), 0), client: own.user + own.system };
}

/** The `q` quantile (0..1) of sorted `values`, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The length of the windows counted by {@link LoadResult.p99Windows}. */
const P99_WINDOW_MS = 100;

/** How many distinct {@link P99_WINDOW_MS} windows after `from` hold the start of a write at or above `p99` (`starts[i]` is the start of the write that took `latencies[i]`). */
function windowsOfSlowest(starts: readonly number[], latencies: readonly number[], p99: number, from: number): number {
  const windows = new Set<number>();
  latencies.forEach((latency, i) => {
    if (latency >= p99) windows.add(Math.floor((starts[i]! - from) / P99_WINDOW_MS));
  });
  return windows.size;
}

/** Rounds to two decimals, for printing. */
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** `a / b` with two decimals, as the summaries print ratios. */
export function ratio(a: number, b: number): number {
  return round2(a / b);
}

/** Runs one level of load; resolves when every writer has stopped. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + o.warmupMs;
  const end = measureFrom + o.durationMs;
  // The start and latency of each write counted, side by side (numbers only: no object per write in the generator).
  const starts: number[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let seq = 0;
  // Completions come in the order of the event loop, so each one is compared with the one before.
  let lastCompletion = measureFrom;
  let longestStall = 0;
  const pids = o.serverPids();
  let cpuAtStart = cpuNow(pids);
  const startCpuClock = setTimeout(() => void (cpuAtStart = cpuNow(pids)), o.warmupMs);
  const writer = async (): Promise<void> => {
    while (performance.now() < end && seq < o.maxWrites) {
      const t0 = performance.now();
      let failed: unknown;
      try {
        await o.write(seq++);
      } catch (err) {
        failed = err;
      }
      const t1 = performance.now();
      if (t1 < measureFrom || t1 > end) continue;
      longestStall = Math.max(longestStall, t1 - lastCompletion);
      lastCompletion = t1;
      if (failed === undefined) {
        starts.push(t0);
        latencies.push(t1 - t0);
      } else {
        errors++;
        firstError ??= failed instanceof Error ? failed.message : String(failed);
      }
    }
  };
  await Promise.all(Array.from({ length: o.writers }, writer));
  clearTimeout(startCpuClock);
  const cpuAtEnd = cpuNow(pids);
  const sorted = [...latencies].sort((a, b) => a - b);
  const perWrite = (us: number): number => Math.round(us / Math.max(1, sorted.length));
  const p99 = quantile(sorted, 0.99);
  const measuredMs = Math.min(end, performance.now()) - measureFrom;
  return {
    writers: o.writers,
    writesPerSec: Math.round(sorted.length / (measuredMs / 1000)),
    p50ms: round2(quantile(sorted, 0.5)),
    p90ms: round2(quantile(sorted, 0.9)),
    p99ms: round2(p99),
    p999ms: round2(quantile(sorted, 0.999)),
    longestStallMs: round2(Math.max(longestStall, Math.min(end, performance.now()) - lastCompletion)),
    p99Windows: windowsOfSlowest(starts, latencies, p99, measureFrom),
    errors,
    serverCpuUsPerWrite: perWrite(cpuAtEnd.server - cpuAtStart.server),
    clientCpuUsPerWrite: perWrite(cpuAtEnd.client - cpuAtStart.client),
    ...(firstError === undefined ? {} : { firstError }),
  };
}
