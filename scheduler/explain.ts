/**
 * "Why is my task pending": every node that cannot take a task is counted under the first
 * filter that rejects it, and the counts become one sentence in Docker's words, such as
 * `no suitable node (2 nodes not available for new tasks; 3 nodes insufficient memory)`.
 */
import type { NodeRejection } from "../proto/gen/objects.ts";
import type { Filter } from "./filters.ts";

/** The reason given for a task pinned to a node that is not in the snapshot. */
export const NOT_IN_CLUSTER = "not in the cluster";

/**
 * Counts the given nodes by the first filter that rejects them. The result is in chain order,
 * then in the order reasons were first met; nodes that pass every filter are not counted.
 */
export function countRejections(chain: readonly Filter[], nodes: ArrayLike<number>): NodeRejection[] {
  const byFilter = chain.map(() => new Map<string, number>());
  for (let i = 0; i < nodes.length; i++) {
    for (let f = 0; f < chain.length; f++) {
      const reason = chain[f]!.reject(nodes[i]!);
      if (reason === undefined) continue;
      byFilter[f]!.set(reason, (byFilter[f]!.get(reason) ?? 0) + 1);
      break;
    }
  }
  return byFilter.flatMap((counts) => [...counts].map(([reason, count]) => ({ reason, nodes: count })));
}

/** The sentence for a task that fits nowhere. */
export function explain(rejections: readonly NodeRejection[]): string {
  if (rejections.length === 0) return "no suitable node (the cluster has no nodes)";
  const parts = rejections.map(({ reason, nodes }) => `${nodes} node${nodes === 1 ? "" : "s"} ${reason}`);
  return `no suitable node (${parts.join("; ")})`;
}
