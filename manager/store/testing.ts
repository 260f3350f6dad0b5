/**
 * For the store's tests: a fake Raft log that orders proposals from any number of replicas,
 * gives them increasing indexes and applies each entry to every replica, and builders of
 * nodes, clusters and configs with readable defaults.
 */
import type { Cluster, Config, Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import type { Proposer } from "../raft/state-machine.ts";
import type { ApplyResult } from "./events.ts";
import { MemoryStore } from "./memory-store.ts";

/**
 * When proposals are committed: `sync` inside `propose`; `async` together, on the next turn
 * of the event loop (so concurrent writers' proposals are all in flight at once); `manual`
 * when the test calls {@link FakeRaft.commit}.
 */
export type Delivery = "sync" | "async" | "manual";

/** How a {@link FakeRaft} is made. */
export interface FakeRaftOptions {
  /** Stores fed the same entries (default 1). */
  replicas?: number;
  /** Default `sync`. */
  delivery?: Delivery;
  /** When given, each batch of waiting proposals is committed in an order shuffled by it. */
  random?: () => number;
  /** Every replica's clock (default: a clock that reads 1000, 2000, 3000...). */
  clock?: () => number;
  /** Every replica's watch queue limit. */
  watchQueueLimit?: number;
}

interface Proposal {
  readonly from: number;
  readonly data: Uint8Array;
  resolve(result: ApplyResult): void;
}

/** A log in memory standing in for Raft: one order of entries, applied to every replica. */
export class FakeRaft {
  /** The replicas; `stores[i]` proposes through this log as replica i. */
  readonly stores: MemoryStore[];
  /** Every committed entry, in order (entry i has index i + 1). */
  readonly log: Uint8Array[] = [];
  /** The most proposals that were ever waiting at once. */
  maxInFlight = 0;
  /** When set, proposals are rejected with it, as Raft does when it cannot commit. */
  failWith: Error | undefined;
  private waiting: Proposal[] = [];
  private scheduled = false;
  private readonly delivery: Delivery;
  private readonly random: (() => number) | undefined;

  /** Makes the log and its replicas. */
  constructor(options: FakeRaftOptions = {}) {
    this.delivery = options.delivery ?? "sync";
    this.random = options.random;
    let tick = 0;
    const clock = options.clock ?? (() => (tick += 1000));
    this.stores = Array.from({ length: options.replicas ?? 1 }, (_, i) => {
      const proposer: Proposer<ApplyResult> = { propose: (data) => this.propose(i, data) };
      return new MemoryStore({ proposer, clock, watchQueueLimit: options.watchQueueLimit });
    });
  }

  /** The first replica, for tests that need only one. */
  get store(): MemoryStore {
    return this.stores[0]!;
  }

  /** Commits the first `count` waiting proposals (default: all), in arrival order or shuffled, and applies each to every replica. */
  commit(count = Infinity): void {
    const batch = this.waiting.splice(0, count);
    if (this.random) shuffle(batch, this.random);
    for (const p of batch) {
      this.log.push(p.data);
      const index = this.log.length;
      const results = this.stores.map((s) => s.apply(index, p.data));
      p.resolve(results[p.from]!);
    }
  }

  private propose(from: number, data: Uint8Array): Promise<ApplyResult> {
    if (this.failWith) return Promise.reject(this.failWith);
    const done = new Promise<ApplyResult>((resolve) => this.waiting.push({ from, data, resolve }));
    this.maxInFlight = Math.max(this.maxInFlight, this.waiting.length);
    if (this.delivery === "sync") this.commit();
    else if (this.delivery === "async" && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.commit();
      });
    }
    return done;
  }
}

/** Fisher-Yates, driven by `random`. */
function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** What {@link makeNode} sets; everything but the id has a default. */
export interface NodeOptions {
  /** Default: the id. */
  hostname?: string;
  /** Default: worker. */
  role?: NodeRole;
  /** Default: active. */
  availability?: NodeAvailability;
  /** Managers' Raft id; 0 (the default) gives the node no manager status. */
  raftId?: number;
  /** Spec labels. */
  labels?: Record<string, string>;
}

/** A node as a manager's dispatcher would first write it. */
export function makeNode(id: string, o: NodeOptions = {}): Node {
  const role = o.role ?? NodeRole.NODE_ROLE_WORKER;
  return {
    id,
    role,
    spec: { annotations: { name: "", labels: o.labels ?? {} }, desiredRole: role, availability: o.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: { hostname: o.hostname ?? id, engineLabels: {} },
    status: { state: NodeState.NODE_STATE_READY, message: "", addr: "" },
    ...(o.raftId ? { managerStatus: { raftId: o.raftId, addr: "", leader: false, reachable: true } } : {}),
  };
}

/** A cluster object with a name and nothing else. */
export function makeCluster(id: string, name = "default"): Cluster {
  return { id, spec: { annotations: { name, labels: {} } }, removedNodes: [], revokedOperators: [] };
}

/** A config named `name` holding `data` (default: a line of text). */
export function makeConfig(id: string, name: string, data: string | Uint8Array = `${name} data\n`, labels: Record<string, string> = {}): Config {
  return { id, spec: { annotations: { name, labels }, data: typeof data === "string" ? new TextEncoder().encode(data) : data } };
}
