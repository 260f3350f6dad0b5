/**
 * Placement preferences: `spread=node.labels.KEY`, repeatable. Tasks are divided evenly over
 * the values of the first label, then within each value over the values of the next, and so
 * on; nodes are ranked within the last level. Nodes that lack a label form their own group
 * (the value ""), as in Docker. Evenness counts every active task of the service, those
 * running before this plan included, so new tasks go where the service is thinnest.
 *
 * The tree is a heap at every level: a branch's children are ordered by their task count
 * (then by value), a leaf's nodes by ranking. Placing a task descends along the tops, and
 * afterwards only the branches on that path move, so a task costs O(levels × log width).
 */
import { ALLOWED_LABEL_ATTRIBUTES, parseAttributeKey } from "./attributes.ts";
import type { AttributeKey } from "./attributes.ts";
import { PlacementError, PlacementErrorCode } from "./errors.ts";
import { IndexHeap } from "./heap.ts";
import type { Before } from "./heap.ts";
import { getOrCreate } from "./maps.ts";
import type { PlacementState } from "./state.ts";

/** Parses a spread descriptor such as `node.labels.zone`. Throws a PlacementError. */
export function parseSpreadDescriptor(text: string): AttributeKey {
  const key = parseAttributeKey(text.trim());
  if (key?.kind === "node.labels" || key?.kind === "engine.labels") return key;
  throw new PlacementError(
    PlacementErrorCode.INVALID_PREFERENCE,
    `invalid placement preference "spread=${text}": spread takes ${ALLOWED_LABEL_ATTRIBUTES}, as in spread=node.labels.zone`,
  );
}

/** One value of one level: the nodes (at the last level) or values of the next level under it. */
class Branch {
  /** Active tasks of the service on nodes under this branch. */
  count = 0;
  /** While building: the next level's branches by value. */
  readonly byValue = new Map<string, Branch>();
  /** While building, at the last level: the feasible nodes. */
  readonly nodes: number[] = [];
  /** The next level's branches, sorted by value; a child's position here is its heap item. */
  children: Branch[] = [];
  /** Children (or, at the last level, nodes) still able to take a task, best first. */
  heap!: IndexHeap;

  /** Arranges this branch and those under it into heaps; `levels` = levels below this one. */
  seal(levels: number, order: Before): void {
    if (levels === 0) {
      this.heap = new IndexHeap(Int32Array.from(this.nodes), order);
      return;
    }
    const values = [...this.byValue.keys()].sort();
    const children = values.map((v) => this.byValue.get(v)!);
    for (const child of children) child.seal(levels - 1, order);
    this.children = children;
    this.heap = new IndexHeap(
      Int32Array.from(children.keys()),
      (a, b) => (children[a]!.count !== children[b]!.count ? children[a]!.count < children[b]!.count : a < b),
    );
  }
}

/** Feasible nodes of one group arranged by spread preferences, handing out nodes task by task. */
export class SpreadTree {
  private readonly root = new Branch();
  private readonly path: Branch[];

  /**
   * @param state the placement state, with the group's service selected
   * @param levels the spread preferences, outermost first (none: one level of nodes)
   * @param feasible the nodes that can take a task of the group now
   * @param order the ranking of nodes within the last level
   */
  constructor(state: PlacementState, levels: readonly AttributeKey[], feasible: ArrayLike<number>, order: Before) {
    const columns = levels.map((key) => state.snapshot.column(key));
    const newBranch = (): Branch => new Branch();
    for (let i = 0; i < feasible.length; i++) {
      const node = feasible[i]!;
      let branch = this.root;
      for (const column of columns) branch = getOrCreate(branch.byValue, column[node]!, newBranch);
      branch.nodes.push(node);
    }
    for (const [node, count] of state.serviceCountsOf()) {
      let branch: Branch | undefined = this.root;
      for (const column of columns) {
        branch = branch.byValue.get(column[node]!);
        if (!branch) break;
        branch.count += count;
      }
    }
    this.root.seal(levels.length, order);
    this.path = new Array<Branch>(levels.length + 1).fill(this.root);
  }

  /** The node the next task should go to; -1 when no node can take one. */
  next(): number {
    let branch = this.root;
    for (let depth = 1; depth < this.path.length; depth++) {
      const child = branch.heap.top();
      if (child < 0) return -1;
      branch = branch.children[child]!;
      this.path[depth] = branch;
    }
    return branch.heap.top();
  }

  /** Records that the node {@link next} returned took a task, and whether it can take another. */
  placed(fitsAnother: boolean): void {
    const leaf = this.path[this.path.length - 1]!;
    if (fitsAnother) leaf.heap.topGrew();
    else leaf.heap.pop();
    for (let depth = this.path.length - 1; depth > 0; depth--) {
      const child = this.path[depth]!;
      const parent = this.path[depth - 1]!;
      child.count++;
      if (child.heap.empty) parent.heap.pop();
      else parent.heap.topGrew();
    }
  }
}
