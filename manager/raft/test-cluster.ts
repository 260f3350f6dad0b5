/**
 * An in-memory cluster of RawNodes for scenario tests and the core benchmark: every node
 * persists into a MemoryStorage exactly as Ready says, messages are delivered synchronously
 * (in order) unless a link is cut, and committed entries are recorded per node.
 */
import type { ConfChange, Entry, Message } from "../../proto/gen/raft.ts";
import { ConfChangeCodec, EntryType } from "../../proto/gen/raft.ts";
import type { Config } from "./config.ts";
import { Raft, StateType } from "./raft.ts";
import { seededRandom } from "./random.ts";
import { RawNode } from "./raw-node.ts";
import type { Ready } from "./raw-node.ts";
import type { ReadState } from "./read-only.ts";
import { MemoryStorage } from "./storage.ts";

/** Options of a test cluster; `config` is merged into every node's Config. */
export interface TestClusterOptions {
  /** Seed of every node's randomness (node i uses seed + i). */
  seed?: number;
  /** Config fields for every node. */
  config?: Partial<Omit<Config, "id" | "storage" | "random">>;
  /** Ids that start as learners. */
  learners?: number[];
  /** Makes the state machine of a node; tests plant bugs through it. */
  makeRaft?: (config: Config) => Raft;
}

/** One node of a test cluster and what it has applied. */
export interface TestNode {
  /** The node. */
  node: RawNode;
  /** Its durable state. */
  storage: MemoryStorage;
  /** Data of every normal entry it applied, in order (no-ops excluded). */
  applied: Entry[];
  /** Read states it received. */
  readStates: ReadState[];
}

/** A cluster of nodes over a synchronous, cuttable in-memory network. */
export class TestCluster {
  /** Nodes by id. */
  readonly nodes = new Map<number, TestNode>();
  private readonly cut = new Set<string>();
  private readonly opts: TestClusterOptions;
  /** Messages delivered so far, for assertions. */
  delivered: Message[] = [];
  /** When set, messages are held here instead of delivered. */
  hold: Message[] | undefined;
  /** When set, messages for which it returns true are dropped. */
  dropIf: ((m: Message) => boolean) | undefined;

  /** A cluster whose members are `ids` (voters unless listed in `opts.learners`). */
  constructor(ids: number[], opts: TestClusterOptions = {}) {
    this.opts = opts;
    for (const id of ids) {
      const storage = new MemoryStorage();
      const learners = opts.learners ?? [];
      storage.applySnapshot({
        data: new Uint8Array(),
        metadata: { index: 1, term: 1, confState: { voters: ids.filter((i) => !learners.includes(i)), learners } },
      });
      storage.setHardState({ term: 1, vote: 0, commit: 1 });
      this.addNode(id, storage);
    }
  }

  /**
   * A cluster whose nodes start from given logs: `logs[id]` lists the terms of the entries after
   * the bootstrap entry (index 1, term 1), and the node's term is the last of them.
   */
  static withLogs(logs: Record<number, number[]>, opts: TestClusterOptions = {}): TestCluster {
    const ids = Object.keys(logs).map(Number);
    const c = new TestCluster([], opts);
    for (const id of ids) {
      const storage = new MemoryStorage();
      storage.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: { voters: ids, learners: [] } } });
      const terms = logs[id]!;
      storage.append(terms.map((term, i) => ({ term, index: i + 2, type: EntryType.ENTRY_NORMAL, data: new TextEncoder().encode(`t${term}-${i + 2}`) })));
      storage.setHardState({ term: Math.max(1, ...terms), vote: 0, commit: 1 });
      c.addNode(id, storage);
    }
    return c;
  }

  /** Starts (or restarts) node `id` from `storage`. */
  addNode(id: number, storage: MemoryStorage): TestNode {
    const config: Config = { electionTick: 10, heartbeatTick: 1, ...this.opts.config, id, storage, random: seededRandom((this.opts.seed ?? 1) + id) };
    const raft = this.opts.makeRaft ? this.opts.makeRaft(config) : new Raft(config);
    const tn: TestNode = { node: new RawNode(raft), storage, applied: [], readStates: [] };
    this.nodes.set(id, tn);
    return tn;
  }

  /** The node with id `id`. */
  get(id: number): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The raft state machine of node `id`. */
  raft(id: number): Raft {
    return this.get(id).node.raft;
  }

  /** Cuts the link from `a` to `b` (one direction). */
  cutLink(a: number, b: number): void {
    this.cut.add(`${a}>${b}`);
  }

  /** Cuts every link to and from `id`. */
  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** Handles one Ready of `id` (persist, apply, advance); returns its messages. */
  process(id: number): Message[] {
    const tn = this.get(id);
    if (!tn.node.hasReady()) return [];
    const rd: Ready = tn.node.ready();
    if (rd.snapshot) tn.storage.applySnapshot(rd.snapshot);
    tn.storage.append(rd.entries);
    if (rd.hardState) tn.storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ENTRY_CONF_CHANGE) tn.node.applyConfChange(ConfChangeCodec.decode(e.data));
      else if (e.data.byteLength > 0) tn.applied.push(e);
    }
    tn.readStates.push(...rd.readStates);
    tn.node.advance(rd);
    return rd.messages;
  }

  /** Delivers messages, and every message they cause, until the cluster is quiet. */
  deliver(msgs: Message[]): void {
    const queue = [...msgs];
    while (queue.length > 0) {
      const m = queue.shift()!;
      if (this.cut.has(`${m.from}>${m.to}`) || this.dropIf?.(m)) continue;
      const target = this.nodes.get(m.to);
      if (!target) continue;
      if (this.hold) {
        this.hold.push(m);
        continue;
      }
      this.delivered.push(m);
      target.node.step(m);
      queue.push(...this.process(m.to));
    }
  }

  /** Processes every node's Ready and delivers the results until nothing is left. */
  stabilize(): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const id of this.nodes.keys()) {
        const msgs = this.process(id);
        if (msgs.length > 0 || this.get(id).node.hasReady()) any = true;
        this.deliver(msgs);
      }
      if (!any) return;
    }
    throw new Error("cluster did not stabilize in 1000 rounds");
  }

  /** Ticks every node `n` times, stabilizing after each tick. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const tn of this.nodes.values()) tn.node.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign and stabilizes. */
  elect(id: number): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  /** Proposes `text` at `id` and stabilizes. */
  propose(id: number, text: string): void {
    this.get(id).node.propose(new TextEncoder().encode(text));
    this.stabilize();
  }

  /** Proposes a membership change at `id` and stabilizes. */
  proposeConfChange(id: number, cc: ConfChange): void {
    this.get(id).node.proposeConfChange(cc);
    this.stabilize();
  }

  /** The ids of the nodes that are leaders now. */
  leaders(): number[] {
    return [...this.nodes].filter(([, tn]) => tn.node.raft.state === StateType.LEADER).map(([id]) => id);
  }

  /** The data of what node `id` applied, as text. */
  appliedText(id: number): string[] {
    return this.get(id).applied.map((e) => new TextDecoder().decode(e.data));
  }
}
