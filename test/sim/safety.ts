/**
 * The safety properties of Raft (Figure 3 of the paper), checked while the simulation runs:
 *
 * - Election safety: at most one leader per term.
 * - Log matching: two logs with an entry of the same index and term are identical up to it.
 *   Checked with a hash chain: each node keeps, per index, a hash of its whole log up to that
 *   index; any two nodes holding (index, term) must hold the same chain hash there.
 * - Leader completeness: a new leader's log contains every entry committed before its term.
 * - State machine safety: no two nodes apply (or commit) different entries at one index.
 *
 * The simulator reports what each node persists, commits, applies and when it becomes leader;
 * each report is checked at once, so a violation names the first step where it showed.
 */
import type { Entry } from "../../proto/gen/raft.ts";

/** Hash of an entry's bytes (FNV-1a, 32 bits). */
function bytesHash(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.byteLength; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Extends a 53-bit chain hash with one entry. */
function chainStep(prev: number, term: number, data: Uint8Array): number {
  const dh = bytesHash(data);
  const lo0 = prev >>> 0;
  const hi0 = Math.floor(prev / 4294967296);
  let lo = Math.imul(lo0 ^ term, 0x9e3779b1) ^ dh;
  lo = Math.imul(lo ^ (lo >>> 15), 0x85ebca6b) >>> 0;
  let hi = Math.imul(hi0 ^ dh, 0x27d4eb2f) ^ term ^ lo;
  hi = (Math.imul(hi ^ (hi >>> 13), 0xc2b2ae35) >>> 0) & 0x1fffff;
  return hi * 4294967296 + lo;
}

/** A node's log as chain hashes: `hashes[i - base]` covers the log up to index i. */
interface NodeChain {
  base: number;
  hashes: number[];
  commitSeen: number;
}

/** Collects violations of Raft's safety properties from the simulator's reports. */
export class SafetyChecker {
  /** What went wrong, each with the step where it was seen. */
  readonly violations: string[] = [];
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly seen = new Map<string, number>();
  private readonly committedChain = new Map<number, number>();
  private committedMax: number;
  private readonly appliedEntry = new Map<number, number>();
  private readonly snapshotState = new Map<number, number>();
  private readonly chains = new Map<number, NodeChain>();
  /** The step being checked, for messages. */
  now = 0;

  /** Every node starts from a bootstrap snapshot at (`bootIndex`, `bootTerm`). */
  constructor(private readonly bootIndex: number) {
    this.committedChain.set(bootIndex, 0);
    this.committedMax = bootIndex;
  }

  private fail(what: string): void {
    this.violations.push(`step ${this.now}: ${what}`);
  }

  private chainOf(node: number): NodeChain {
    let c = this.chains.get(node);
    if (!c) {
      c = { base: this.bootIndex, hashes: [0], commitSeen: this.bootIndex };
      this.chains.set(node, c);
    }
    return c;
  }

  /** A node that starts empty (a new member) has no log at all yet. */
  newEmptyNode(node: number): void {
    this.chains.set(node, { base: 0, hashes: [0], commitSeen: 0 });
  }

  private hashAt(c: NodeChain, i: number): number | undefined {
    return i < c.base ? undefined : c.hashes[i - c.base];
  }

  /** The node persisted a snapshot from its leader (at `index`) and/or entries. */
  onPersist(node: number, snapshotIndex: number | undefined, entries: Entry[]): void {
    const c = this.chainOf(node);
    if (snapshotIndex !== undefined) {
      const h = this.committedChain.get(snapshotIndex);
      if (h === undefined) {
        this.fail(`node ${node} installed a snapshot at index ${snapshotIndex}, which no node had committed`);
        return;
      }
      c.base = snapshotIndex;
      c.hashes = [h];
    }
    for (const e of entries) {
      const prev = this.hashAt(c, e.index - 1);
      if (prev === undefined) {
        this.fail(`node ${node} persisted entry ${e.index} without holding entry ${e.index - 1} (log starts at ${c.base})`);
        return;
      }
      const h = chainStep(prev, e.term, e.data);
      c.hashes.length = e.index - c.base;
      c.hashes.push(h);
      const key = `${e.index}:${e.term}`;
      const other = this.seen.get(key);
      if (other === undefined) this.seen.set(key, h);
      else if (other !== h) {
        this.fail(`log matching: node ${node} holds entry (index ${e.index}, term ${e.term}) after a log that differs from another node's`);
      }
    }
  }

  /** The node's commit index is now `commit`. */
  onCommit(node: number, commit: number): void {
    const c = this.chainOf(node);
    for (let i = Math.max(c.commitSeen + 1, c.base); i <= commit; i++) {
      const h = this.hashAt(c, i);
      if (h === undefined) {
        this.fail(`node ${node} committed index ${i} that is not in its log (last ${c.base + c.hashes.length - 1})`);
        return;
      }
      const known = this.committedChain.get(i);
      if (known === undefined) this.committedChain.set(i, h);
      else if (known !== h) this.fail(`state machine safety: node ${node} committed a different entry at index ${i} than another node`);
    }
    c.commitSeen = Math.max(c.commitSeen, commit);
    if (commit > this.committedMax) this.committedMax = commit;
  }

  /** The node became leader of `term`; its persisted log is what it leads with. */
  onLeader(node: number, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== node) {
      this.fail(`election safety: nodes ${other} and ${node} were both leader in term ${term}`);
    }
    this.leaderOfTerm.set(term, node);
    const c = this.chainOf(node);
    const last = c.base + c.hashes.length - 1;
    const at = Math.max(this.committedMax, c.base);
    if (last < this.committedMax) {
      this.fail(`leader completeness: node ${node}, leader of term ${term}, lacks committed entry ${this.committedMax} (its log ends at ${last})`);
    } else if (this.hashAt(c, at) !== this.committedChain.get(at)) {
      this.fail(`leader completeness: node ${node}, leader of term ${term}, holds a log that differs from the committed one at index ${at}`);
    }
  }

  /** The node applied `entry` to its state machine. */
  onApply(node: number, entry: Entry): void {
    const h = chainStep(entry.term, entry.term, entry.data);
    const known = this.appliedEntry.get(entry.index);
    if (known === undefined) this.appliedEntry.set(entry.index, h);
    else if (known !== h) this.fail(`state machine safety: node ${node} applied a different entry at index ${entry.index} than another node`);
  }

  /** The node's state machine, after applying up to `index`, serializes to `data`. */
  onStateAt(node: number, index: number, data: Uint8Array): void {
    const h = bytesHash(data);
    const known = this.snapshotState.get(index);
    if (known === undefined) this.snapshotState.set(index, h);
    else if (known !== h) this.fail(`state machine safety: node ${node}'s state after index ${index} differs from another node's`);
  }
}
