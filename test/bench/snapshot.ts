/**
 * `npm run bench:snapshot`: a manager's snapshot of a large store, encoded in the background in
 * slices (manager/store/snapshot.ts). For stores of 10,000, 100,000 and 250,000 configs of
 * 256 bytes, two snapshots one after the other (the second with the code compiled), one JSON
 * line each, with the wall time from start to bytes, the CPU time of the
 * process (the collector's threads included), the pauses between slices and the longest time
 * the event loop was held (measured by a timer due every millisecond), which is what a write
 * arriving meanwhile would wait at most; and the wall and CPU time of persisting the bytes as a
 * manager does (`LevelStorage.snapshotAndCompact`, in a temporary directory, removed at the
 * end). Then one line per store with the heap it takes and the
 * time of a full collection of that heap (median of three, forced), which every manager pays
 * again and again as long as the store lives.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { EntryType } from "../../proto/gen/raft.ts";
import { LevelStorage } from "../../manager/raft/level-storage.ts";
import { canonical } from "../../manager/store/canonical.ts";
import { encodeSnapshotInSlices } from "../../manager/store/snapshot.ts";
import { Slices } from "../../manager/store/sort-in-slices.ts";
import { Tables } from "../../manager/store/table.ts";
import { makeConfig } from "../../manager/store/testing.ts";

const STORE_SIZES = [10_000, 100_000, 250_000];
const VALUE_BYTES = 256;

/** A store of `size` configs with random ids (32 hex digits; a manager's are 25 base-32 characters), all holding `value`. */
function storeOf(size: number, value: Uint8Array): Tables {
  const tables = new Tables();
  for (let i = 0; i < size; i++) tables.put("config", canonical(makeConfig(randomBytes(16).toString("hex"), `bench-${i}`, value)));
  return tables;
}

/** `work` run and measured: its result, its wall time and the CPU time of the whole process (every thread) meanwhile. */
async function timed<T>(work: () => Promise<T>): Promise<{ result: T; wallMs: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await work();
  const cpu = process.cpuUsage(cpu0);
  return { result, wallMs: Math.round(performance.now() - t0), cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

/** One snapshot in slices of `tables`, measured. */
async function measure(tables: Tables): Promise<{ wallMs: number; cpuMs: number; pauses: number; longestHoldMs: number; bytes: number; data: Uint8Array }> {
  let last = performance.now();
  let longestHold = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestHold = Math.max(longestHold, now - last);
    last = now;
  }, 1);
  const slices = new Slices();
  try {
    const { result: data, wallMs, cpuMs } = await timed(() => encodeSnapshotInSlices(tables, undefined, slices));
    return { wallMs, cpuMs, pauses: slices.pauses, longestHoldMs: Math.round(longestHold * 10) / 10, bytes: data.byteLength, data };
  } finally {
    clearInterval(timer);
  }
}

setFlagsFromString("--expose-gc");
/** A full collection, on demand. */
const fullGc = runInNewContext("gc") as () => void;

/** The median time of three full collections, and the heap after them. */
function heapOf(): { heapUsedMB: number; arrayBuffersMB: number; fullGcMs: number } {
  const times = [0, 1, 2].map(() => {
    const t0 = performance.now();
    fullGc();
    return performance.now() - t0;
  }).sort((a, b) => a - b);
  const m = process.memoryUsage();
  return { heapUsedMB: Math.round(m.heapUsed / 1e6), arrayBuffersMB: Math.round(m.arrayBuffers / 1e6), fullGcMs: Math.round(times[1]! * 10) / 10 };
}

/** Persists `bytes` as the snapshot at `index` of `storage`, measured (CPU of every thread: LevelDB's and libuv's too). */
async function persist(storage: LevelStorage, index: number, bytes: Uint8Array): Promise<{ persistMs: number; persistCpuMs: number }> {
  await storage.save({ entries: [{ index, term: 1, type: EntryType.ENTRY_NORMAL, data: new Uint8Array() }], hardState: { term: 1, vote: 1, commit: index } });
  const { wallMs, cpuMs } = await timed(() => storage.snapshotAndCompact({ data: bytes, metadata: { index, term: 1, confState: { voters: [1], learners: [] } } }, index));
  return { persistMs: wallMs, persistCpuMs: cpuMs };
}

/** Two snapshots of `tables`, both persisted into one storage in `path`, one JSON line each. */
async function snapshotsOf(tables: Tables, size: number, path: string): Promise<void> {
  // The storage keeps its latest snapshot in memory: it is gone once this returns, before the heap is measured.
  const storage = await LevelStorage.open(path);
  try {
    for (const snapshot of [1, 2]) {
      const { data, ...figures } = await measure(tables);
      console.log(JSON.stringify({ objects: size, snapshot, ...figures, ...(await persist(storage, snapshot, data)) }));
    }
  } finally {
    await storage.close();
  }
}

const value = randomBytes(VALUE_BYTES);
const dir = mkdtempSync(join(tmpdir(), "shoal-bench-snapshot-"));
try {
  for (const size of STORE_SIZES) {
    const tables = storeOf(size, value);
    await snapshotsOf(tables, size, join(dir, String(size)));
    console.log(JSON.stringify({ objects: size, ...heapOf() }));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
