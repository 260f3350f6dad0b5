// Linearizability checker for client histories, generic over a sequential model.
//
// Algorithm (Wing & Gong, with Lowe's memoization, as in Porcupine):
//
//  1. If the model can partition the history (P-compositionality, e.g. one sub-history per
//     key), each sub-history is checked on its own: a history is linearizable iff every
//     partition is.
//  2. Each operation contributes two entries, its call and its return, to a doubly linked list
//     sorted by time. Intervals are closed: `a` precedes `b` only if `a.return < b.call`; when
//     `a.return === b.call` the two are concurrent. So at equal times calls sort before
//     returns (and calls among themselves by their index in the history, for determinism).
//  3. Depth-first search with backtracking over configurations (the set of operations
//     linearized so far and the resulting state). The operations that may come next are the
//     calls in the list before its first return entry: the operation of that return entry, and
//     everything that returned before it, must already be linearized, so nothing else can be
//     next. The search tries them in turn: `model.step` from the current state; if legal and
//     the new configuration has not been seen before, it "lifts" the operation's two entries
//     out of the list (dancing links: they go back in O(1) on backtrack) and goes on from
//     there. When no candidate works, it undoes the last operation and tries that
//     configuration's next candidate; running out at the root means no linearization exists.
//     Candidates are tried most urgent first (earliest return; pending ones last), and a
//     read-only operation (see `Model.readOnly`) that is legal now is taken at once with no
//     alternative: moving a read earlier to a point where it is legal breaks nothing, since
//     everything that had to precede it is already linearized.
//  4. The memo (Porcupine's cache) holds every (bitset of linearized operations, state hash)
//     pair the search has entered. Any two paths reaching the same pair have the same future,
//     so a pair is explored at most once; this is what keeps the search polynomial for the
//     mostly sequential histories a Raft simulation produces. The bitset is a Uint32Array
//     with an incrementally maintained Zobrist hash (one random word per operation, XORed in
//     and out), so keying the memo costs O(1) plus an O(n/32) comparison on a bucket hit.
//
// Operations that never returned (`return === Infinity`, `output` absent) may have taken
// effect at any point after their call, or never. Their return entries sort after every
// finite time, so the search may linearize them anywhere after their call; and reaching one
// of those entries means every completed operation has been linearized, which is success: the
// remaining pending operations are simply dropped. A pending operation whose step leaves the
// state unchanged (e.g. a pending read) is never linearized, since dropping it is always at
// least as good; this keeps pending reads from multiplying the search space.
//
// `maxSteps` bounds the total number of `model.step` calls over all partitions; when it runs
// out the result is `unknown`, never a hang.

/** One completed or pending client operation. */
export interface Operation<I, O> {
  /** The client that issued it (used only in reports). */
  clientId: number;
  /** What the client asked for. */
  input: I;
  /** Logical time the client invoked it (a tick or a sequence number). */
  call: number;
  /** What the client got back; absent when the operation never returned. */
  output?: O;
  /** Logical time of the response; Infinity when it never returned (pending/indeterminate). */
  return: number;
}

/** A sequential specification. `step` must not mutate `state`; states are kept for backtracking. */
export interface Model<S, I, O> {
  /** The initial state. */
  init(): S;
  /**
   * Applies input to state; says whether output is a legal result, and the next state.
   * `completed` is false for an operation that never returned: then `output` is undefined and
   * should not constrain anything.
   */
  step(state: S, input: I, output: O | undefined, completed: boolean): { ok: boolean; next: S };
  /** Splits a history into independent sub-histories (P-compositionality), e.g. per key. Optional. */
  partition?(history: Operation<I, O>[]): Operation<I, O>[][];
  /** A string that identifies a state, for memoizing visited (linearized-set, state) pairs. */
  hash(state: S): string;
  /** Human-readable text of an operation, for error reports. */
  describe(op: Operation<I, O>): string;
  /**
   * Optional: true if the completed operation (input with that output) leaves the state
   * unchanged wherever it is legal, as a read does. The checker then linearizes such an
   * operation as soon as it is legal, without trying other orders: any linearization can be
   * rearranged to do so. Answering true for an operation that may change the state makes
   * the checker unsound.
   */
  readOnly?(input: I, output: O | undefined): boolean;
  /** Human-readable text of a state, for error reports. Optional; defaults to `hash`. */
  describeState?(state: S): string;
}

/** The verdict of `checkLinearizability`. */
export type CheckResult =
  | { kind: "ok" }
  | {
      kind: "illegal";
      /** Index of the offending sub-history in the model's partition (0 without one). */
      partition: number;
      /** The longest sequence of operations of that partition the search could linearize. */
      longestPrefix: string[];
      /** What went wrong, naming the operations involved. */
      message: string;
    }
  | { kind: "unknown"; reason: string };

/** Options of `checkLinearizability`. */
export interface CheckOptions {
  /** Budget of `model.step` calls over the whole check; `unknown` when exceeded. Default 10 million. */
  maxSteps?: number;
}

/** Default step budget of `checkLinearizability`. */
export const DEFAULT_MAX_STEPS = 10_000_000;

/** How many operations of the longest prefix the message of an `illegal` result shows. */
const PREFIX_SHOWN = 10;

/**
 * Checks whether `history` is linearizable with respect to `model` (see the header comment of
 * this file for the algorithm and the treatment of pending operations). Partitions are checked
 * in order, stopping at the first that is illegal or exhausts the budget. Throws a RangeError
 * on malformed times (NaN, infinite call, return before call).
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: Operation<I, O>[],
  opts?: CheckOptions,
): CheckResult {
  for (const op of history) {
    if (!Number.isFinite(op.call) || Number.isNaN(op.return) || op.return < op.call) {
      throw new RangeError(`malformed operation times [${op.call}, ${op.return}]: ${model.describe(op)}`);
    }
  }
  const budget = { left: opts?.maxSteps ?? DEFAULT_MAX_STEPS };
  const partitions = model.partition ? model.partition(history) : [history];
  for (let p = 0; p < partitions.length; p++) {
    const r = checkPartition(model, partitions[p]!, p, budget);
    if (r.kind !== "ok") return r;
  }
  return { kind: "ok" };
}

/** A set of operation indices with an O(1)-maintained hash. */
class Bitset {
  readonly words: Uint32Array;
  hash = 0;
  constructor(
    n: number,
    private readonly zobrist: Uint32Array,
  ) {
    this.words = new Uint32Array((n + 31) >>> 5);
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.hash = (this.hash ^ this.zobrist[i]!) >>> 0;
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.hash = (this.hash ^ this.zobrist[i]!) >>> 0;
  }
  equals(words: Uint32Array): boolean {
    const w = this.words;
    for (let k = 0; k < w.length; k++) if (w[k] !== words[k]) return false;
    return true;
  }
}

/** Deterministic random words for Zobrist hashing (xorshift32). */
function zobristTable(n: number): Uint32Array {
  const t = new Uint32Array(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    t[i] = x >>> 0;
  }
  return t;
}

/** FNV-1a of a string, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The memo of visited (linearized set, state) pairs. */
class Cache {
  private readonly buckets = new Map<number, { words: Uint32Array; state: string }[]>();
  /** Adds the pair; false if it was already there. */
  add(bits: Bitset, state: string): boolean {
    const key = (bits.hash ^ Math.imul(fnv1a(state), 0x9e3779b1)) >>> 0;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(key, bucket);
    } else {
      for (const e of bucket) if (e.state === state && bits.equals(e.words)) return false;
    }
    bucket.push({ words: bits.words.slice(), state });
    return true;
  }
}

/** Checks one sub-history by the search described in the header comment. */
function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  partition: number,
  budget: { left: number },
): CheckResult {
  const n = ops.length;
  const completed = ops.map((op) => Number.isFinite(op.return));

  // Entries 0..2n-1 (entry 2i is the call of op i, 2i+1 its return); 2n is the list's head.
  const order: number[] = [];
  for (let e = 0; e < 2 * n; e++) order.push(e);
  const time = (e: number): number => (e & 1 ? ops[e >> 1]!.return : ops[e >> 1]!.call);
  order.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);
  const H = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  let last = H;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = H;
  prev[H] = last;

  const lift = (op: number): void => {
    for (const e of [2 * op, 2 * op + 1]) {
      next[prev[e]!] = next[e]!;
      prev[next[e]!] = prev[e]!;
    }
  };
  const unlift = (op: number): void => {
    for (const e of [2 * op + 1, 2 * op]) {
      next[prev[e]!] = e;
      prev[next[e]!] = e;
    }
  };

  const readOnly = ops.map((op, i) => completed[i]! && model.readOnly !== undefined && model.readOnly(op.input, op.output));
  const bits = new Bitset(n, zobristTable(n));
  const cache = new Cache();

  /**
   * One configuration of the search: the operations linearized so far (the `op` of every
   * configuration above the root), the resulting state, and the operations that may come next,
   * in the order they are tried; `tried` of them have been.
   */
  interface Config {
    op: number;
    state: S;
    hash: string;
    candidates: number[];
    tried: number;
    /** The completed operation not yet linearized that returns first. */
    blocking: number;
  }
  const path: Config[] = [];

  // The deepest configuration from which the search found no way on, for the report.
  let deepest: { prefix: number[]; blocked: number; candidates: number[]; state: S } | undefined;

  /**
   * Builds the configuration reached by linearizing `op` (-1 for the root) into `state`, or
   * null when it is final: every completed operation has been linearized.
   */
  const enter = (op: number, state: S, hash: string): Config | null => {
    const window: number[] = [];
    let e = next[H]!;
    for (; e !== H && (e & 1) === 0; e = next[e]!) window.push(e >> 1);
    if (e === H || !completed[e >> 1]) return null; // only pending operations remain
    const blocking = e >> 1;
    // A legal read-only operation is taken at once, without alternatives.
    for (const c of window) {
      if (!readOnly[c]) continue;
      budget.left--;
      const o = ops[c]!;
      const r = model.step(state, o.input, o.output, true);
      if (r.ok && model.hash(r.next) === hash) return { op, state, hash, candidates: [c], tried: 0, blocking };
    }
    // Otherwise try the most urgent first: by return time, pending operations last.
    window.sort((a, b) => ops[a]!.return - ops[b]!.return || ops[a]!.call - ops[b]!.call || a - b);
    return { op, state, hash, candidates: window, tried: 0, blocking };
  };

  const root = enter(-1, model.init(), model.hash(model.init()));
  if (root === null) return { kind: "ok" };
  cache.add(bits, root.hash);
  path.push(root);

  for (;;) {
    if (budget.left <= 0) {
      return {
        kind: "unknown",
        reason: `step budget exhausted in partition ${partition} (${n} operations, ${path.length - 1} linearized)`,
      };
    }
    const top = path[path.length - 1]!;
    if (top.tried < top.candidates.length) {
      const op = top.candidates[top.tried++]!;
      budget.left--;
      const o = ops[op]!;
      const r = model.step(top.state, o.input, o.output, completed[op]!);
      if (!r.ok) continue;
      const h = model.hash(r.next);
      if (!completed[op] && h === top.hash) continue; // dropping a pending no-op is never worse
      bits.set(op);
      if (!cache.add(bits, h)) {
        bits.clear(op);
        continue;
      }
      lift(op);
      const config = enter(op, r.next, h);
      if (config === null) return { kind: "ok" };
      path.push(config);
      continue;
    }
    // No way on from here: note it for the report, and undo the last linearized operation.
    if (deepest === undefined || path.length - 1 > deepest.prefix.length) {
      const prefix = path.slice(1).map((c) => c.op);
      const candidates: number[] = [];
      for (let e = next[H]!; e !== H && (e & 1) === 0; e = next[e]!) candidates.push(e >> 1);
      deepest = { prefix, blocked: top.blocking, candidates, state: top.state };
    }
    path.pop();
    if (path.length === 0) return illegal(model, ops, partition, deepest);
    bits.clear(top.op);
    unlift(top.op);
  }
}

/** Builds the `illegal` result from the deepest point the search reached. */
function illegal<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  partition: number,
  deepest: { prefix: number[]; blocked: number; candidates: number[]; state: S } | undefined,
): CheckResult {
  if (deepest === undefined) throw new Error("linearizability checker: failed without a dead end");
  const d = (i: number): string => model.describe(ops[i]!);
  const longestPrefix = deepest.prefix.map(d);
  const shown = longestPrefix.slice(-PREFIX_SHOWN);
  const stateText = model.describeState ? model.describeState(deepest.state) : model.hash(deepest.state);
  const lines = [
    `history is not linearizable (partition ${partition}, ${ops.length} operations).`,
    `Operation ${d(deepest.blocked)} returned, so it must have taken effect by then, but no order of the operations allows that.`,
    `Longest linearizable prefix: ${longestPrefix.length} operations` +
      (longestPrefix.length > shown.length ? `, the last ${shown.length}:` : shown.length > 0 ? ":" : "."),
    ...shown.map((s) => `  ${s}`),
    `State after it: ${stateText}. None of these can come next:`,
    ...deepest.candidates.map((c) => `  ${d(c)}`),
  ];
  return { kind: "illegal", partition, longestPrefix, message: lines.join("\n") };
}
