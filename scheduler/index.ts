/**
 * The scheduler: pure placement of tasks on nodes over a read-only snapshot of the cluster.
 * Build a {@link ClusterSnapshot} from the store's nodes and tasks, then call
 * {@link placeTasks} with the unassigned tasks; validate user specs with
 * {@link validatePlacement} before they are stored.
 */
export { placeTasks } from "./scheduler.ts";
export { ClusterSnapshot, RECENT_FAILURE_WINDOW_MS } from "./snapshot.ts";
export type { SnapshotInput, NodeCounts } from "./snapshot.ts";
export { validatePlacement } from "./group.ts";
export { parseConstraint } from "./constraint.ts";
export type { Constraint } from "./constraint.ts";
export { parseSpreadDescriptor } from "./spread.ts";
export type { AttributeKey } from "./attributes.ts";
export { PlacementError, PlacementErrorCode } from "./errors.ts";
export { MAX_RECENT_FAILURES } from "./ranking.ts";
