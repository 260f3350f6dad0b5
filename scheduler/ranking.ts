/**
 * Ranking: of the nodes that can take a task, which takes it first. In order:
 * 1. nodes where this service's tasks keep failing come last (see {@link MAX_RECENT_FAILURES});
 * 2. fewest tasks of this service: a service spreads across nodes;
 * 3. fewest tasks overall;
 * 4. the node's position in id order, so that equal nodes are always chosen the same way.
 */
import type { Before } from "./heap.ts";
import type { PlacementState } from "./state.ts";

/**
 * Recent failures of a service on a node from which that node is avoided (SwarmKit's value):
 * one or two failures can be bad luck, such as a pull timeout; this many within the window
 * says the node itself is the problem.
 */
export const MAX_RECENT_FAILURES = 5;

/** The node order for the service selected in `state`; it reads the state's live counts. */
export function nodeOrder(state: PlacementState): Before {
  const { recentFailures, serviceTasks, taskCount } = state;
  return (a, b) => {
    const fa = recentFailures[a]! >= MAX_RECENT_FAILURES ? recentFailures[a]! : 0;
    const fb = recentFailures[b]! >= MAX_RECENT_FAILURES ? recentFailures[b]! : 0;
    if (fa !== fb) return fa < fb;
    if (serviceTasks[a] !== serviceTasks[b]) return serviceTasks[a]! < serviceTasks[b]!;
    if (taskCount[a] !== taskCount[b]) return taskCount[a]! < taskCount[b]!;
    return a < b;
  };
}
