/**
 * The read-only view of the cluster the scheduler decides over, built once from the store's
 * nodes and tasks: nodes sorted by id (a node is its index in that order), and what each
 * node has left, runs and publishes, precomputed into typed arrays so that filters and
 * ranking read numbers, not objects. Nothing here changes after construction.
 */
import type { Node, Task } from "../proto/gen/objects.ts";
import { NodeState } from "../proto/gen/objects.ts";
import { NodeAvailability } from "../proto/gen/specs.ts";
import { TaskState } from "../proto/gen/types.ts";
import { attributeValue } from "./attributes.ts";
import type { AttributeKey } from "./attributes.ts";
import { getOrCreate, increment } from "./maps.ts";
import { hostPortKeys } from "./ports.ts";

/**
 * How long a failed task counts against its node when ranking (SwarmKit's value): long
 * enough to see a crash loop, short enough that a repaired node is used again soon.
 */
export const RECENT_FAILURE_WINDOW_MS = 5 * 60 * 1000;

const newMap = (): Map<number, number> => new Map();
const newSet = (): Set<number> => new Set();

/** What the snapshot is built from. */
export interface SnapshotInput {
  /** Every node of the cluster. */
  readonly nodes: readonly Node[];
  /** The tasks in the store; those on a node count against it (see {@link ClusterSnapshot}). */
  readonly tasks: readonly Task[];
  /** The current time in milliseconds since the epoch, to tell which failures are recent. */
  readonly now: number;
}

/** Node index → count, for one service. */
export type NodeCounts = ReadonlyMap<number, number>;

/**
 * An immutable, precomputed view of the cluster. A task holds its node's reservations and
 * host ports from ASSIGNED until it stops running; it is active (counts for spread, ranking
 * and max replicas) while it also is desired to run.
 */
export class ClusterSnapshot {
  /** The nodes, sorted by id; a node's index is its position here. */
  readonly nodes: readonly Node[];
  /** Node id → index. */
  readonly indexOf: ReadonlyMap<string, number>;
  /** 1 when the dispatcher sees the node ready. */
  readonly ready: Uint8Array;
  /** 1 when the node's availability is active (not paused or drained). */
  readonly active: Uint8Array;
  /** Nano CPUs of the node not reserved by its tasks (negative if overcommitted). */
  readonly freeCpu: Float64Array;
  /** Memory bytes of the node not reserved by its tasks. */
  readonly freeMemory: Float64Array;
  /** Active tasks per node. */
  readonly taskCount: Uint32Array;
  /** Service id → its active tasks per node. */
  readonly serviceTasks: ReadonlyMap<string, NodeCounts>;
  /** Service id → its tasks that failed on each node within {@link RECENT_FAILURE_WINDOW_MS}. */
  readonly recentFailures: ReadonlyMap<string, NodeCounts>;
  /** Node index → keys of the host-mode ports its tasks publish (see ports.ts). */
  readonly hostPorts: ReadonlyMap<number, ReadonlySet<number>>;
  private readonly columns = new Map<string, readonly string[]>();

  /** Builds the view; the input is read, never kept or changed. */
  constructor(input: SnapshotInput) {
    const nodes = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const n = nodes.length;
    this.nodes = nodes;
    this.indexOf = new Map(nodes.map((node, i) => [node.id, i]));
    this.ready = new Uint8Array(n);
    this.active = new Uint8Array(n);
    this.freeCpu = new Float64Array(n);
    this.freeMemory = new Float64Array(n);
    this.taskCount = new Uint32Array(n);
    nodes.forEach((node, i) => {
      this.ready[i] = node.status?.state === NodeState.NODE_STATE_READY ? 1 : 0;
      this.active[i] = (node.spec?.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE) === NodeAvailability.NODE_AVAILABILITY_ACTIVE ? 1 : 0;
      this.freeCpu[i] = node.description?.resources?.nanoCpus ?? 0;
      this.freeMemory[i] = node.description?.resources?.memoryBytes ?? 0;
    });
    const serviceTasks = new Map<string, Map<number, number>>();
    const recentFailures = new Map<string, Map<number, number>>();
    const hostPorts = new Map<number, Set<number>>();
    const failedSince = input.now - RECENT_FAILURE_WINDOW_MS;
    for (const task of input.tasks) {
      const i = task.nodeId === "" ? undefined : this.indexOf.get(task.nodeId);
      if (i === undefined) continue;
      const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
      if (state >= TaskState.TASK_STATE_ASSIGNED && state <= TaskState.TASK_STATE_RUNNING) {
        const reserved = task.spec?.resources?.reservations;
        this.freeCpu[i]! -= reserved?.nanoCpus ?? 0;
        this.freeMemory[i]! -= reserved?.memoryBytes ?? 0;
        if (task.endpoint?.ports.length) for (const port of hostPortKeys(task)) getOrCreate(hostPorts, i, newSet).add(port);
        if (task.desiredState <= TaskState.TASK_STATE_RUNNING) {
          this.taskCount[i]!++;
          increment(getOrCreate(serviceTasks, task.serviceId, newMap), i);
        }
      } else if ((state === TaskState.TASK_STATE_FAILED || state === TaskState.TASK_STATE_REJECTED) && (task.status?.timestamp ?? 0) >= failedSince) {
        increment(getOrCreate(recentFailures, task.serviceId, newMap), i);
      }
    }
    this.serviceTasks = serviceTasks;
    this.recentFailures = recentFailures;
    this.hostPorts = hostPorts;
  }

  /** The value of an attribute on every node, by node index (computed once per attribute). */
  column(key: AttributeKey): readonly string[] {
    return this.memo(key.name, () => this.nodes.map((node) => attributeValue(node, key)));
  }

  /** {@link column} folded to lower case, for constraints, which ignore case. */
  foldedColumn(key: AttributeKey): readonly string[] {
    return this.memo(`folded:${key.name}`, () => this.column(key).map((v) => v.toLowerCase()));
  }

  private memo(name: string, compute: () => readonly string[]): readonly string[] {
    let column = this.columns.get(name);
    if (!column) {
      column = compute();
      this.columns.set(name, column);
    }
    return column;
  }
}
