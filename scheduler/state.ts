/**
 * The scheduler's scratch copy of a snapshot while it computes one plan: what each node has
 * left, runs and publishes after the placements made so far. The snapshot itself is never
 * changed; per-service data is copied only for the services the plan touches.
 */
import type { ClusterSnapshot } from "./snapshot.ts";
import { getOrCreate } from "./maps.ts";

/** What a task takes from the node it is placed on. */
export interface TaskFootprint {
  /** Its service. */
  readonly serviceId: string;
  /** Reserved nano CPUs. */
  readonly cpu: number;
  /** Reserved memory bytes. */
  readonly memory: number;
  /** Keys of the host-mode ports it publishes. */
  readonly hostPorts: readonly number[];
}

/** Mutable per-plan state over an immutable {@link ClusterSnapshot}. */
export class PlacementState {
  /** Number of nodes. */
  readonly size: number;
  /** Nano CPUs left per node. */
  readonly freeCpu: Float64Array;
  /** Memory bytes left per node. */
  readonly freeMemory: Float64Array;
  /** Active tasks per node. */
  readonly taskCount: Uint32Array;
  /** Active tasks of the current service per node (see {@link selectService}). */
  readonly serviceTasks: Int32Array;
  /** Recent failures of the current service per node (see {@link selectService}). */
  readonly recentFailures: Int32Array;
  private readonly serviceCounts = new Map<string, Map<number, number>>();
  private readonly ports = new Map<number, Set<number>>();
  private service = "";
  private counts: Map<number, number> | undefined; // the current service's own copy, once it has one

  /** Starts from the snapshot's figures. */
  constructor(readonly snapshot: ClusterSnapshot) {
    this.size = snapshot.nodes.length;
    this.freeCpu = snapshot.freeCpu.slice();
    this.freeMemory = snapshot.freeMemory.slice();
    this.taskCount = snapshot.taskCount.slice();
    this.serviceTasks = new Int32Array(this.size);
    this.recentFailures = new Int32Array(this.size);
  }

  /** Loads {@link serviceTasks} and {@link recentFailures} for one service. */
  selectService(serviceId: string): void {
    this.service = serviceId;
    this.counts = this.serviceCounts.get(serviceId);
    load(this.serviceTasks, this.counts ?? this.snapshot.serviceTasks.get(serviceId));
    load(this.recentFailures, this.snapshot.recentFailures.get(serviceId));
  }

  /** Whether a task on the node already publishes the host port `key`. */
  hostPortInUse(node: number, key: number): boolean {
    return (this.ports.get(node) ?? this.snapshot.hostPorts.get(node))?.has(key) ?? false;
  }

  /** Records a task of the current service placed on a node. */
  place(node: number, task: TaskFootprint): void {
    if (task.serviceId !== this.service) throw new Error(`placing a task of ${task.serviceId} while ${this.service} is selected`);
    this.freeCpu[node]! -= task.cpu;
    this.freeMemory[node]! -= task.memory;
    this.taskCount[node]!++;
    const count = ++this.serviceTasks[node]!;
    if (!this.counts) {
      this.counts = new Map(this.snapshot.serviceTasks.get(this.service));
      this.serviceCounts.set(this.service, this.counts);
    }
    this.counts.set(node, count);
    if (task.hostPorts.length > 0) {
      const used = getOrCreate(this.ports, node, () => new Set(this.snapshot.hostPorts.get(node)));
      for (const key of task.hostPorts) used.add(key);
    }
  }

  /** Active tasks of the current service per node, as a map (node index → count). */
  serviceCountsOf(): ReadonlyMap<number, number> {
    return this.counts ?? this.snapshot.serviceTasks.get(this.service) ?? EMPTY;
  }
}

const EMPTY: ReadonlyMap<number, number> = new Map();

/** Fills a dense per-node array from sparse counts. */
function load(dense: Int32Array, counts: ReadonlyMap<number, number> | undefined): void {
  dense.fill(0);
  if (counts) for (const [node, count] of counts) dense[node] = count;
}
