/**
 * Builders of nodes and tasks with short, readable options, for the scheduler's tests and
 * benchmark. Every field the scheduler reads can be set; the rest gets a plain default.
 */
import type { Node, PlacementPlan, Task } from "../proto/gen/objects.ts";
import { NodeState } from "../proto/gen/objects.ts";
import { NodeAvailability, NodeRole, PublishMode } from "../proto/gen/specs.ts";
import { TaskState } from "../proto/gen/types.ts";
import { increment } from "./maps.ts";
import { placeTasks } from "./scheduler.ts";
import { ClusterSnapshot } from "./snapshot.ts";

/** Bytes in a mebibyte. */
export const MiB = 1024 * 1024;
/** Bytes in a gibibyte. */
export const GiB = 1024 * MiB;
/** Nano CPUs in one core. */
const NANO_CPUS_PER_CORE = 1e9;

/** What {@link makeNode} sets; everything but the id has a default. */
export interface NodeOptions {
  id: string;
  /** Default: the id. */
  hostname?: string;
  /** Default: worker. */
  role?: "manager" | "worker";
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  /** Default: linux. */
  os?: string;
  /** Default: amd64. */
  arch?: string;
  /** Cores; default 4. */
  cpus?: number;
  /** Bytes; default 8 GiB. */
  memory?: number;
  /** Default: ready. */
  state?: NodeState;
  /** Default: active. */
  availability?: NodeAvailability;
}

/** A node as the store holds it. */
export function makeNode(o: NodeOptions): Node {
  const role = o.role === "manager" ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
  return {
    id: o.id,
    role,
    spec: { annotations: { name: "", labels: o.labels ?? {} }, desiredRole: role, availability: o.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: {
      hostname: o.hostname ?? o.id,
      platform: { os: o.os ?? "linux", architecture: o.arch ?? "amd64" },
      resources: { nanoCpus: (o.cpus ?? 4) * NANO_CPUS_PER_CORE, memoryBytes: o.memory ?? 8 * GiB, pids: 0 },
      engineLabels: o.engineLabels ?? {},
    },
    status: { state: o.state ?? NodeState.NODE_STATE_READY, message: "", addr: "" },
  };
}

/** What {@link makeTask} sets; everything but the id and service has a default. */
export interface TaskOptions {
  id: string;
  serviceId: string;
  /** Default: 1. */
  specVersion?: number;
  /** Default: "" (unassigned). */
  nodeId?: string;
  /** Default: RUNNING when nodeId is set, else PENDING. */
  state?: TaskState;
  /** Default: RUNNING. */
  desiredState?: TaskState;
  /** Status timestamp, milliseconds since the epoch; default 0. */
  timestamp?: number;
  constraints?: string[];
  /** Spread descriptors, outermost first: ["node.labels.zone"]. */
  spread?: string[];
  maxReplicas?: number;
  /** Image platforms as "os/arch". */
  platforms?: string[];
  /** Reserved cores. */
  cpus?: number;
  /** Reserved bytes. */
  memory?: number;
  /** Host-mode published ports: "80" (tcp) or "53/udp". */
  hostPorts?: string[];
}

/** A task as the store holds it. */
export function makeTask(o: TaskOptions): Task {
  const nodeId = o.nodeId ?? "";
  return {
    id: o.id,
    serviceId: o.serviceId,
    slot: 0,
    nodeId,
    specVersion: o.specVersion ?? 1,
    desiredState: o.desiredState ?? TaskState.TASK_STATE_RUNNING,
    status: {
      state: o.state ?? (nodeId === "" ? TaskState.TASK_STATE_PENDING : TaskState.TASK_STATE_RUNNING),
      timestamp: o.timestamp ?? 0, message: "", err: "", exitCode: 0, pid: 0, containerId: "", health: 0,
    },
    spec: {
      resources: { reservations: { nanoCpus: (o.cpus ?? 0) * NANO_CPUS_PER_CORE, memoryBytes: o.memory ?? 0, pids: 0 } },
      placement: {
        constraints: o.constraints ?? [],
        preferences: (o.spread ?? []).map((spreadDescriptor) => ({ spreadDescriptor })),
        maxReplicas: o.maxReplicas ?? 0,
        platforms: (o.platforms ?? []).map((p) => ({ os: p.split("/")[0]!, architecture: p.split("/")[1] ?? "" })),
      },
      networks: [],
      forceUpdate: 0,
    },
    endpoint: {
      ports: (o.hostPorts ?? []).map((p) => ({
        name: "", protocol: p.split("/")[1] ?? "tcp", targetPort: 80, publishedPort: Number(p.split("/")[0]), publishMode: PublishMode.PUBLISH_HOST,
      })),
    },
  };
}

/** `count` unassigned tasks of one service, with ids `<serviceId>.1`, `<serviceId>.2`... */
export function makeReplicas(count: number, o: Omit<TaskOptions, "id">): Task[] {
  return Array.from({ length: count }, (_, i) => makeTask({ ...o, id: `${o.serviceId}.${i + 1}` }));
}

/** Places `batch` over a snapshot of `nodes` running `tasks`, at time `now`. */
export function schedule(nodes: readonly Node[], batch: readonly Task[], tasks: readonly Task[] = [], now = 0): PlacementPlan {
  return placeTasks(new ClusterSnapshot({ nodes, tasks, now }), batch);
}

/** How many tasks of the plan went to each node id; pending tasks count under "". */
export function tasksPerNode(plan: PlacementPlan): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of plan.decisions) increment(counts, d.nodeId);
  return counts;
}
