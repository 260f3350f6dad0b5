/**
 * Placement: a pure function from a cluster snapshot and a batch of unassigned tasks to a
 * plan that names a node, or an explanation, for each task. Tasks are grouped by service and
 * spec version; for each group the filter chain runs once over all nodes, then the feasible
 * nodes are arranged by spread preferences and ranking, and the group's tasks are handed out
 * from that arrangement, with only the chosen node checked again after each placement.
 * The same snapshot and batch always give the same plan.
 */
import type { PlacementDecision, PlacementPlan, Task } from "../proto/gen/objects.ts";
import { PlacementError } from "./errors.ts";
import { NOT_IN_CLUSTER, countRejections, explain } from "./explain.ts";
import { accepts, feasibleNodes, filterChain } from "./filters.ts";
import type { Filter } from "./filters.ts";
import { compileGroup, groupKey } from "./group.ts";
import type { TaskGroup } from "./group.ts";
import { getOrCreate } from "./maps.ts";
import { nodeOrder } from "./ranking.ts";
import type { ClusterSnapshot } from "./snapshot.ts";
import { SpreadTree } from "./spread.ts";
import { PlacementState } from "./state.ts";

/** The batch being placed and the decisions made so far, by position in the batch. */
interface Batch {
  readonly tasks: readonly Task[];
  readonly decisions: PlacementDecision[];
}

/**
 * Decides where each task of `batch` goes. A task whose nodeId is already set (a global
 * service's task) is checked against that node only; the others are placed by group, in the
 * order their groups first appear, after all pinned tasks. Neither argument is changed.
 */
export function placeTasks(snapshot: ClusterSnapshot, batch: readonly Task[]): PlacementPlan {
  const state = new PlacementState(snapshot);
  const out: Batch = { tasks: batch, decisions: new Array<PlacementDecision>(batch.length) };
  const pinned = new Map<string, number[]>();
  const free = new Map<string, number[]>();
  batch.forEach((task, i) => getOrCreate(task.nodeId === "" ? free : pinned, groupKey(task), () => []).push(i));
  for (const members of pinned.values()) placeGroup(state, out, members, placePinned);
  for (const members of free.values()) placeGroup(state, out, members, placeFree);
  return { decisions: out.decisions };
}

/** Places the members of one group given its chain; the way differs for pinned and free tasks. */
type GroupPlacer = (state: PlacementState, out: Batch, members: readonly number[], group: TaskGroup, chain: readonly Filter[]) => void;

function placeGroup(state: PlacementState, out: Batch, members: readonly number[], placer: GroupPlacer): void {
  let group: TaskGroup;
  try {
    group = compileGroup(out.tasks[members[0]!]!);
  } catch (err) {
    if (!(err instanceof PlacementError)) throw err;
    for (const i of members) out.decisions[i] = decision(out.tasks[i]!, "", err.message, []);
    return;
  }
  state.selectService(group.serviceId);
  placer(state, out, members, group, filterChain(state, group));
}

/** Each pinned task goes to its own node if that node passes the chain. */
const placePinned: GroupPlacer = (state, out, members, group, chain) => {
  for (const i of members) {
    const task = out.tasks[i]!;
    const node = state.snapshot.indexOf.get(task.nodeId);
    if (node !== undefined && accepts(chain, node)) {
      state.place(node, group);
      out.decisions[i] = decision(task, task.nodeId, "", []);
    } else {
      const rejections = node === undefined ? [{ reason: NOT_IN_CLUSTER, nodes: 1 }] : countRejections(chain, [node]);
      out.decisions[i] = decision(task, "", explain(rejections), rejections);
    }
  }
};

/** Free tasks are handed out from the spread tree; those left over share one explanation. */
const placeFree: GroupPlacer = (state, out, members, group, chain) => {
  const dynamic = chain.filter((f) => f.dynamic);
  const tree = new SpreadTree(state, group.spread, feasibleNodes(chain, state.size), nodeOrder(state));
  const nodes = state.snapshot.nodes;
  let placed = 0;
  for (; placed < members.length; placed++) {
    const node = tree.next();
    if (node < 0) break;
    state.place(node, group);
    tree.placed(accepts(dynamic, node));
    const i = members[placed]!;
    out.decisions[i] = decision(out.tasks[i]!, nodes[node]!.id, "", []);
  }
  if (placed === members.length) return;
  const rejections = countRejections(chain, Int32Array.from(nodes.keys()));
  const explanation = explain(rejections);
  for (const i of members.slice(placed)) out.decisions[i] = decision(out.tasks[i]!, "", explanation, rejections);
};

function decision(task: Task, nodeId: string, explanation: string, rejections: PlacementDecision["rejections"]): PlacementDecision {
  return { taskId: task.id, nodeId, explanation, rejections };
}
