// Scheduler benchmark: places batches of 1,000 and 10,000 tasks of several services (with
// constraints, reservations, a host port, max replicas and a two-level spread preference)
// onto simulated clusters of 1,000, 5,000 and 10,000 nodes that already run 10 tasks each.
// Each case runs in its own process, so that its peak memory is its own; each prints one
// JSON line. placementsPerSec counts placeTasks alone (median of RUNS runs after WARMUP_RUNS,
// as on a leader that has been scheduling for a while); coldSnapshotMs and coldPlaceMs are
// the very first calls, before the JIT has compiled anything; endToEndPerSec also counts building the snapshot
// from the store's nodes and tasks. Peak memory is the case process's, fixtures included.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NodeState } from "../../proto/gen/objects.ts";
import type { Task } from "../../proto/gen/objects.ts";
import { NodeAvailability } from "../../proto/gen/specs.ts";
import { ClusterSnapshot, placeTasks } from "../../scheduler/index.ts";
import { GiB, MiB, makeNode, makeTask } from "../../scheduler/testing.ts";
import type { TaskOptions } from "../../scheduler/testing.ts";

const CLUSTER_SIZES = [1000, 5000, 10000];
const BATCH_SIZES = [1000, 10000];
const EXISTING_TASKS_PER_NODE = 10;
const EXISTING_SERVICES = 50;
const WARMUP_RUNS = 5; // enough for V8 to optimize the hot loops
const RUNS = 15; // measured runs per case; the median is reported
const ZONES = [["z1", 0.5], ["z2", 0.3], ["z3", 0.2]] as const; // unequal zones
const RACKS_PER_ZONE = 10;
const NOW = 1_700_000_000_000;

/** The services of the batch: their share of it and their placement spec. */
const SERVICES: { share: number; spec: Omit<TaskOptions, "id" | "serviceId"> }[] = [
  { share: 0.4, spec: { constraints: ["node.role==worker"], spread: ["node.labels.zone", "node.labels.rack"], cpus: 0.25, memory: 256 * MiB } },
  { share: 0.3, spec: { constraints: ["node.labels.zone!=z3", "node.platform.os==linux"], spread: ["node.labels.zone", "node.labels.rack"], cpus: 0.5, memory: 512 * MiB } },
  { share: 0.2, spec: { constraints: ["node.labels.disk==ssd"], spread: ["node.labels.zone", "node.labels.rack"], maxReplicas: 8, cpus: 0.1, memory: 128 * MiB } },
  { share: 0.05, spec: { spread: ["node.labels.zone", "node.labels.rack"], hostPorts: ["8080"], cpus: 0.1, memory: 64 * MiB } },
  { share: 0.05, spec: { constraints: ["engine.labels.gpu!=none"], spread: ["node.labels.zone", "node.labels.rack"], platforms: ["linux/amd64", "linux/arm64"], cpus: 1, memory: 1 * GiB } },
];

function cluster(size: number): { nodes: ReturnType<typeof makeNode>[]; tasks: Task[] } {
  const nodes = [];
  const tasks: Task[] = [];
  for (let i = 0; i < size; i++) {
    const f = i / size;
    const zone = f < ZONES[0][1] ? ZONES[0][0] : f < ZONES[0][1] + ZONES[1][1] ? ZONES[1][0] : ZONES[2][0];
    const id = `node-${String(i).padStart(6, "0")}`;
    nodes.push(makeNode({
      id,
      role: i % 20 === 0 ? "manager" : "worker",
      labels: { zone, rack: `${zone}-r${i % RACKS_PER_ZONE}`, disk: i % 3 === 0 ? "hdd" : "ssd" },
      engineLabels: { gpu: i % 4 === 0 ? "none" : "t4" },
      cpus: 32,
      memory: 128 * GiB,
      state: i % 100 === 99 ? NodeState.NODE_STATE_DOWN : NodeState.NODE_STATE_READY,
      availability: i % 50 === 49 ? NodeAvailability.NODE_AVAILABILITY_DRAIN : NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    }));
    for (let t = 0; t < EXISTING_TASKS_PER_NODE; t++) {
      tasks.push(makeTask({ id: `${id}-t${t}`, serviceId: `old-${(i + t) % EXISTING_SERVICES}`, nodeId: id, cpus: 0.5, memory: 1 * GiB }));
    }
  }
  return { nodes, tasks };
}

function batch(size: number): Task[] {
  const out: Task[] = [];
  SERVICES.forEach(({ share, spec }, s) => {
    for (let k = 0; k < Math.round(size * share); k++) out.push(makeTask({ ...spec, id: `new-${s}-${k}`, serviceId: `svc-${s}` }));
  });
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function runCase(nodeCount: number, batchSize: number): void {
  let peakHeap = 0;
  const sampleHeap = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  const { nodes, tasks } = cluster(nodeCount);
  const pending = batch(batchSize);
  sampleHeap();
  const snapshotMs: number[] = [];
  let t0 = performance.now();
  let snapshot = new ClusterSnapshot({ nodes, tasks, now: NOW });
  const coldSnapshotMs = performance.now() - t0;
  t0 = performance.now();
  let plan = placeTasks(snapshot, pending);
  const coldPlaceMs = performance.now() - t0;
  for (let r = 0; r < 3; r++) {
    t0 = performance.now();
    snapshot = new ClusterSnapshot({ nodes, tasks, now: NOW });
    snapshotMs.push(performance.now() - t0);
  }
  sampleHeap();
  for (let r = 0; r < WARMUP_RUNS; r++) placeTasks(snapshot, pending);
  const placeMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    t0 = performance.now();
    plan = placeTasks(snapshot, pending);
    placeMs.push(performance.now() - t0);
    sampleHeap();
  }
  const placed = plan.decisions.filter((d) => d.nodeId !== "").length;
  const place = median(placeMs);
  const build = median(snapshotMs);
  console.log(JSON.stringify({
    bench: "scheduler",
    nodes: nodeCount,
    existingTasks: tasks.length,
    batch: batchSize,
    services: SERVICES.length,
    placed,
    pending: batchSize - placed,
    coldSnapshotMs: Number(coldSnapshotMs.toFixed(1)),
    coldPlaceMs: Number(coldPlaceMs.toFixed(1)),
    placeMs: Number(place.toFixed(2)),
    placementsPerSec: Math.round((placed / place) * 1000),
    snapshotMs: Number(build.toFixed(2)),
    endToEndPerSec: Math.round((placed / (place + build)) * 1000),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    peakHeapUsedMiB: Math.round(peakHeap / MiB),
  }));
}

const [nodesArg, batchArg] = process.argv.slice(2);
if (nodesArg && batchArg) {
  runCase(Number(nodesArg), Number(batchArg));
} else {
  const self = fileURLToPath(import.meta.url);
  for (const nodes of CLUSTER_SIZES) {
    for (const size of BATCH_SIZES) {
      const code = await new Promise<number | null>((done) => fork(self, [String(nodes), String(size)]).on("exit", done));
      if (code !== 0) process.exit(code ?? 1);
    }
  }
}
