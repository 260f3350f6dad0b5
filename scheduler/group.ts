/**
 * Task groups: the tasks of one service made from one spec version need the same kind of node,
 * so the scheduler reads their placement spec once and places them together.
 */
import type { Task } from "../proto/gen/objects.ts";
import type { Placement } from "../proto/gen/specs.ts";
import type { Platform } from "../proto/gen/types.ts";
import type { AttributeKey } from "./attributes.ts";
import { normalizeArch } from "./attributes.ts";
import { parseConstraint } from "./constraint.ts";
import type { Constraint } from "./constraint.ts";
import { hostPortKeys } from "./ports.ts";
import { parseSpreadDescriptor } from "./spread.ts";
import type { TaskFootprint } from "./state.ts";

/** Everything the scheduler needs from the spec shared by a group of tasks. */
export interface TaskGroup extends TaskFootprint {
  /** Constraints every chosen node must satisfy. */
  readonly constraints: readonly Constraint[];
  /** Spread preferences, outermost level first. */
  readonly spread: readonly AttributeKey[];
  /** Most tasks of the service on one node; 0 = no limit. */
  readonly maxReplicas: number;
  /** Platforms the image exists for (architectures normalized); empty = any. */
  readonly platforms: readonly Platform[];
}

/**
 * The key tasks are grouped by: service and spec version. Tasks that share it were made from
 * the same spec (the orchestrator replaces a task whose spec changed, with a new version).
 */
export function groupKey(task: Task): string {
  return `${task.serviceId}\u0000${task.specVersion}`;
}

/** Parses a placement spec: constraints and spread preferences. Throws a PlacementError. */
export function validatePlacement(placement: Placement | undefined): { constraints: Constraint[]; spread: AttributeKey[] } {
  return {
    constraints: (placement?.constraints ?? []).map(parseConstraint),
    spread: (placement?.preferences ?? []).map((p) => parseSpreadDescriptor(p.spreadDescriptor)),
  };
}

/** Reads the group of a task from its spec. Throws a PlacementError for an unreadable spec. */
export function compileGroup(task: Task): TaskGroup {
  const placement = task.spec?.placement;
  const reservations = task.spec?.resources?.reservations;
  return {
    ...validatePlacement(placement),
    serviceId: task.serviceId,
    cpu: reservations?.nanoCpus ?? 0,
    memory: reservations?.memoryBytes ?? 0,
    hostPorts: hostPortKeys(task),
    maxReplicas: placement?.maxReplicas ?? 0,
    platforms: (placement?.platforms ?? []).map((p) => ({ os: p.os.toLowerCase(), architecture: normalizeArch(p.architecture.toLowerCase()) })),
  };
}
