/**
 * The feasibility chain: small filters, each answering whether one node can take a task of
 * one group and, when it cannot, why. A node must pass them all. The order is Docker's, and
 * it matters for explanations: a node is counted under the first filter that rejects it.
 * Filters that read only the node are static; those that read what was placed on it so far
 * (resources, host ports, replicas) are dynamic, and are checked again after each placement.
 */
import { parseAttributeKey } from "./attributes.ts";
import type { AttributeKey } from "./attributes.ts";
import { satisfies } from "./constraint.ts";
import type { TaskGroup } from "./group.ts";
import { portName } from "./ports.ts";
import type { PlacementState } from "./state.ts";

/** One feasibility check, bound to one task group and one placement state. */
export interface Filter {
  /** Whether its answer changes as tasks are placed. */
  readonly dynamic: boolean;
  /** Why the node cannot take a task of the group; undefined when it can. */
  reject(node: number): string | undefined;
}

/** The reasons that do not depend on the group, as explanations word them. */
const Reason = {
  NOT_READY: "not ready",
  NOT_AVAILABLE: "not available for new tasks",
  INSUFFICIENT_MEMORY: "insufficient memory",
  INSUFFICIENT_CPU: "insufficient CPU",
} as const;

const OS_KEY = parseAttributeKey("node.platform.os") as AttributeKey;
const ARCH_KEY = parseAttributeKey("node.platform.arch") as AttributeKey;

/** The dispatcher sees the node ready. */
function readyFilter(state: PlacementState): Filter {
  const { ready } = state.snapshot;
  return { dynamic: false, reject: (node) => (ready[node] ? undefined : Reason.NOT_READY) };
}

/** The node's availability is active: paused and drained nodes take no new tasks. */
function availabilityFilter(state: PlacementState): Filter {
  const { active } = state.snapshot;
  return { dynamic: false, reject: (node) => (active[node] ? undefined : Reason.NOT_AVAILABLE) };
}

/** The node has the group's CPU and memory reservations left. */
function resourceFilter(state: PlacementState, group: TaskGroup): Filter | undefined {
  const { cpu, memory } = group;
  if (cpu === 0 && memory === 0) return undefined;
  const { freeCpu, freeMemory } = state;
  return {
    dynamic: true,
    reject: (node) => (freeMemory[node]! < memory ? Reason.INSUFFICIENT_MEMORY : freeCpu[node]! < cpu ? Reason.INSUFFICIENT_CPU : undefined),
  };
}

/** The node satisfies every placement constraint. */
function constraintFilter(state: PlacementState, group: TaskGroup): Filter | undefined {
  if (group.constraints.length === 0) return undefined;
  const checks = group.constraints.map((c) => ({ c, values: state.snapshot.foldedColumn(c.key), reason: `did not satisfy constraint ${c.expression}` }));
  return {
    dynamic: false,
    reject: (node) => {
      for (const { c, values, reason } of checks) if (!satisfies(c, values[node]!)) return reason;
      return undefined;
    },
  };
}

/** The node's platform is one the image exists for; a node that reports none passes. */
function platformFilter(state: PlacementState, group: TaskGroup): Filter | undefined {
  const { platforms } = group;
  if (platforms.length === 0) return undefined;
  const os = state.snapshot.foldedColumn(OS_KEY);
  const arch = state.snapshot.foldedColumn(ARCH_KEY);
  const reason = `did not match the image platform ${platforms.map((p) => [p.os, p.architecture].filter(Boolean).join("/")).join(" or ")}`;
  return {
    dynamic: false,
    reject: (node) => {
      const o = os[node]!;
      const a = arch[node]!;
      if (o === "" && a === "") return undefined;
      for (const p of platforms) if ((p.os === "" || p.os === o) && (p.architecture === "" || p.architecture === a)) return undefined;
      return reason;
    },
  };
}

/** No task on the node publishes one of the group's host-mode ports. */
function hostPortFilter(state: PlacementState, group: TaskGroup): Filter | undefined {
  if (group.hostPorts.length === 0) return undefined;
  const checks = group.hostPorts.map((key) => ({ key, reason: `host port ${portName(key)} already in use` }));
  return {
    dynamic: true,
    reject: (node) => {
      for (const { key, reason } of checks) if (state.hostPortInUse(node, key)) return reason;
      return undefined;
    },
  };
}

/** The node runs fewer tasks of the service than the group's max replicas per node. */
function maxReplicasFilter(state: PlacementState, group: TaskGroup): Filter | undefined {
  const max = group.maxReplicas;
  if (max === 0) return undefined;
  const { serviceTasks } = state;
  const reason = `already running ${max} task${max === 1 ? "" : "s"} of this service (max replicas per node)`;
  return { dynamic: true, reject: (node) => (serviceTasks[node]! < max ? undefined : reason) };
}

/**
 * The chain for one group, with the service of the group selected in `state`. Filters that
 * cannot reject anything for this group (no constraints, no reservations...) are left out.
 */
export function filterChain(state: PlacementState, group: TaskGroup): Filter[] {
  const chain = [
    readyFilter(state),
    availabilityFilter(state),
    resourceFilter(state, group),
    constraintFilter(state, group),
    platformFilter(state, group),
    hostPortFilter(state, group),
    maxReplicasFilter(state, group),
  ];
  return chain.filter((f): f is Filter => f !== undefined);
}

/** Whether the node passes every filter of the chain. */
export function accepts(chain: readonly Filter[], node: number): boolean {
  for (const filter of chain) if (filter.reject(node) !== undefined) return false;
  return true;
}

/** The nodes that pass every filter, in index order. */
export function feasibleNodes(chain: readonly Filter[], size: number): Int32Array {
  const nodes = new Int32Array(size);
  let count = 0;
  for (let node = 0; node < size; node++) if (accepts(chain, node)) nodes[count++] = node;
  return nodes.subarray(0, count);
}
