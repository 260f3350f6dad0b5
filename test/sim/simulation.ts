/**
 * One simulated run ("schedule") of a Raft cluster, fully determined by its seed.
 *
 * Time is discrete: a tick is STEPS_PER_TICK steps. Nodes are RawNodes with a MemoryStorage as
 * their disk: a node persists exactly what each Ready says, and a crash keeps the disk and loses
 * everything else. Messages travel through the wire codec over a network that drops, delays,
 * duplicates and reorders them and is cut by symmetric and asymmetric partitions. A key-value
 * state machine runs on every node; clients write through the leader and read with ReadIndex,
 * retrying on timeouts (writes are deduplicated by client sessions). An operator adds learners,
 * promotes them and removes members (the leader too) during the faults; nodes take snapshots and
 * compact their logs, so lagging nodes catch up from snapshots.
 *
 * Safety is checked at every Ready (safety.ts); at the end the clients' history is checked for
 * linearizability. Then the faults heal, and within LIVENESS_TICKS a leader must serve and every
 * pending client operation must complete, and the members must converge.
 */
import type { ConfChange, ConfState, Entry, Message } from "../../proto/gen/raft.ts";
import { ConfChangeCodec, ConfChangeType, EntryType, MessageCodec, MessageType } from "../../proto/gen/raft.ts";
import { RaftError } from "../../manager/raft/errors.ts";
import { StateType } from "../../manager/raft/raft.ts";
import { canSendBeforePersist, RawNode, SnapshotStatus } from "../../manager/raft/raw-node.ts";
import { MemoryStorage } from "../../manager/raft/storage.ts";
import type { BugName } from "./bugs.ts";
import { makeRaft } from "./bugs.ts";
import { decodeCommand, encodeCommand, KvMachine } from "./kv-machine.ts";
import type { KvInput, KvOutput } from "./kv-model.ts";
import { kvModel } from "./kv-model.ts";
import { checkLinearizability } from "./linearizability.ts";
import type { Operation } from "./linearizability.ts";
import { Rng } from "./rng.ts";
import { SafetyChecker } from "./safety.ts";

/** Steps in one tick: messages can arrive between ticks, in any order. */
const STEPS_PER_TICK = 10;
/** Election timeout in ticks, as in production (DESIGN.md). */
const ELECTION_TICK = 10;
/** Ticks allowed after the faults heal for a leader to serve and every client operation to end. */
export const LIVENESS_TICKS = 30 * ELECTION_TICK;
/** Steps a client waits for an answer before retrying elsewhere. */
const CLIENT_TIMEOUT_STEPS = 4 * STEPS_PER_TICK;
/** Keys the clients use: few, so operations contend. */
const KEYS = ["x", "y", "z"];
/** The bootstrap snapshot every initial member starts from. */
const BOOT_INDEX = 1;

/** What one schedule is run with. */
export interface SimOptions {
  /** Determines everything about the run. */
  seed: number;
  /** Voters at the start: 3 or 5. */
  nodes: number;
  /** A bug to plant, to show the checks catch it. */
  bug?: BugName;
}

/** What one schedule found. */
export interface SimResult {
  /** The seed it ran with. */
  seed: number;
  /** Safety, linearizability and liveness violations. */
  violations: string[];
  /** Client operations that completed. */
  completedOps: number;
  /** Ticks run. */
  ticks: number;
  /** Facts about the run, for curiosity and tuning. */
  stats: { leaders: number; crashes: number; partitions: number; confChanges: number; snapshotsSent: number; transfers: number };
}

/** The per-schedule fault profile, drawn from the seed. */
interface Profile {
  faultTicks: number;
  drop: number;
  duplicate: number;
  maxDelay: number;
  crashPerTick: number;
  partitionPerTick: number;
  confChangePerTick: number;
  transferPerTick: number;
  snapshotEvery: number;
  keepAfterSnapshot: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxSizePerMsg: number;
  maxInflight: number;
  clients: number;
  /** Faults aimed at the worst moments: a new leader, a granted vote, a fresh commit. */
  nemesis: boolean;
}

function drawProfile(rng: Rng, nodes: number): Profile {
  return {
    faultTicks: rng.int(150, 400),
    drop: rng.pick([0, 0.02, 0.1, 0.2]),
    duplicate: rng.pick([0, 0.02, 0.05]),
    maxDelay: rng.pick([1, 5, 15, 30]),
    crashPerTick: rng.pick([0.005, 0.01, 0.03]),
    partitionPerTick: rng.pick([0.005, 0.01, 0.03]),
    confChangePerTick: rng.pick([0, 0.01, 0.03]),
    transferPerTick: rng.pick([0, 0.005, 0.02]),
    snapshotEvery: rng.pick([5, 10, 30, 1000]),
    keepAfterSnapshot: rng.pick([0, 2, 10]),
    preVote: rng.chance(0.7),
    checkQuorum: rng.chance(0.7),
    // Tiny messages split appends entry by entry, which exposes commit-rule mistakes.
    maxSizePerMsg: rng.pick([1, 64, 1024 * 1024]),
    maxInflight: rng.pick([1, 4, 256]),
    clients: nodes + rng.int(0, 2),
    nemesis: rng.chance(0.5),
  };
}

/** A write waiting for its entry to be applied, or a read waiting for its ReadIndex. */
interface PendingRequest {
  clientId: number;
  seq: number;
}

/** A simulated server: a Raft node, its disk, its state machine and its pending requests. */
class SimNode {
  readonly node: RawNode;
  kv: KvMachine;
  lastSnapshotIndex: number;
  readonly pendingWrites = new Map<string, PendingRequest[]>();
  readonly pendingReads = new Map<string, PendingRequest & { key: string }>();
  readonly readyReads: { index: number; ctx: string }[] = [];

  constructor(
    readonly id: number,
    readonly disk: MemoryStorage,
    sim: Simulation,
  ) {
    this.node = new RawNode(makeRaft({
      id, storage: disk, electionTick: ELECTION_TICK, heartbeatTick: 1, random: sim.rng.fork(),
      preVote: sim.profile.preVote, checkQuorum: sim.profile.checkQuorum,
      maxSizePerMsg: sim.profile.maxSizePerMsg, maxInflightMsgs: sim.profile.maxInflight,
    }, sim.options.bug));
    const snap = disk.snapshot();
    this.kv = KvMachine.restore(snap.data);
    this.lastSnapshotIndex = snap.metadata!.index;
  }
}

/** A client operation in progress. */
interface ClientOp {
  seq: number;
  input: KvInput;
  historyIndex: number;
  deadline: number;
  attempt: number;
}

/** A client: one operation at a time, retried until it completes. */
interface SimClient {
  id: number;
  seq: number;
  leaderGuess: number;
  current?: ClientOp;
  idleUntil: number;
}

/** Something that happens at a step. */
type SimEvent =
  | { kind: "message"; from: number; to: number; bytes: Uint8Array; snapshot: boolean }
  | { kind: "request"; node: number; clientId: number; seq: number; input: KvInput; attempt: number }
  | { kind: "response"; clientId: number; seq: number; output?: KvOutput; redirect?: number }
  | { kind: "crash"; node: number; downTicks: number };

/** A cut of the network that heals at `until` (a tick). */
interface Partition {
  cuts: Set<string>;
  until: number;
}

/** One schedule: the cluster, the network, the clients, the faults and the checks. */
export class Simulation {
  readonly rng: Rng;
  readonly profile: Profile;
  private readonly checker = new SafetyChecker(BOOT_INDEX);
  private readonly disks = new Map<number, MemoryStorage>();
  private readonly live = new Map<number, SimNode>();
  private readonly crashedUntil = new Map<number, number>();
  private readonly removed = new Set<number>();
  private readonly events = new Map<number, SimEvent[]>();
  private partitions: Partition[] = [];
  private readonly clients: SimClient[] = [];
  private readonly history: Operation<KvInput, KvOutput>[] = [];
  private step = 0;
  private faulty = true;
  private nextNodeId: number;
  private committedConf: { index: number; conf: ConfState };
  private confProposedAt = -Infinity;
  private readonly stats = { leaders: 0, crashes: 0, partitions: 0, confChanges: 0, snapshotsSent: 0, transfers: 0 };

  constructor(readonly options: SimOptions) {
    this.rng = new Rng(options.seed);
    this.profile = drawProfile(this.rng, options.nodes);
    const voters = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.nextNodeId = options.nodes + 1;
    this.committedConf = { index: BOOT_INDEX, conf: { voters, learners: [] } };
    for (const id of voters) {
      const disk = new MemoryStorage();
      disk.applySnapshot({ data: new Uint8Array(), metadata: { index: BOOT_INDEX, term: 1, confState: { voters, learners: [] } } });
      disk.setHardState({ term: 1, vote: 0, commit: BOOT_INDEX });
      this.disks.set(id, disk);
      this.live.set(id, new SimNode(id, disk, this));
    }
    for (let c = 1; c <= this.profile.clients; c++) {
      this.clients.push({ id: c, seq: 0, leaderGuess: this.rng.pick(voters), idleUntil: 0 });
    }
  }

  private get tick(): number {
    return Math.floor(this.step / STEPS_PER_TICK);
  }

  /** Runs the schedule to the end and reports what it found. */
  run(): SimResult {
    const faultSteps = this.profile.faultTicks * STEPS_PER_TICK;
    while (this.step < faultSteps && this.checker.violations.length === 0) this.runStep();
    this.faulty = false;
    if (this.checker.violations.length === 0) this.healAndCheckLiveness();
    const violations = [...this.checker.violations];
    if (violations.length === 0) {
      const result = checkLinearizability(kvModel, this.history, { maxSteps: 5_000_000 });
      if (result.kind === "illegal") violations.push(`linearizability: ${result.message}`);
      else if (result.kind === "unknown") violations.push(`linearizability: could not decide (${result.reason})`);
    }
    return {
      seed: this.options.seed, violations, ticks: this.tick,
      completedOps: this.history.filter((op) => op.return !== Infinity).length, stats: this.stats,
    };
  }

  private runStep(): void {
    this.checker.now = this.step;
    const due = this.events.get(this.step);
    if (due) {
      this.events.delete(this.step);
      for (const ev of this.rng.shuffle(due)) this.handle(ev);
    }
    for (const sn of this.live.values()) {
      if ((this.step + sn.id * 3) % STEPS_PER_TICK === 0) {
        sn.node.tick();
        this.process(sn);
      }
    }
    if (this.step % STEPS_PER_TICK === 0) this.everyTick();
    for (const client of this.clients) this.driveClient(client);
    this.step++;
  }

  // ---- nodes -------------------------------------------------------------------------------

  /** Handles every Ready of a node: persist, check, send, apply, serve reads, snapshot. */
  private process(sn: SimNode): void {
    // A crashed incarnation does nothing more; its successor starts from the disk.
    while (this.live.get(sn.id) === sn && sn.node.hasReady()) {
      const rd = sn.node.ready();
      // A leader's appends and heartbeats go out while it persists (thesis §10.2.1), as the
      // managers do; everything else waits for the disk.
      const early = rd.messages.filter(canSendBeforePersist);
      for (const m of early) this.send(m);
      // Nemesis: the leader dies after sending, before its own disk has the entries.
      if (early.length > 0 && rd.entries.length > 0 && this.faulty && this.profile.nemesis && this.rng.chance(0.05)) {
        this.crash(sn.id, this.rng.pick([1, 3, 20]));
        return;
      }
      const snapIndex = rd.snapshot?.metadata!.index;
      this.checker.onPersist(sn.id, snapIndex, rd.entries);
      if (rd.snapshot) sn.disk.applySnapshot(rd.snapshot);
      sn.disk.append(rd.entries);
      let commitAdvanced = false;
      if (rd.hardState) {
        commitAdvanced = rd.hardState.commit > sn.disk.initialState().hardState.commit;
        sn.disk.setHardState(rd.hardState);
        this.checker.onCommit(sn.id, sn.node.raft.raftLog.committed);
      }
      // Nemesis: a crash between persisting and sending, most often a leader's that just committed.
      if (this.faulty && this.profile.nemesis &&
          this.rng.chance(commitAdvanced && sn.node.raft.state === StateType.LEADER ? 0.3 : 0.002)) {
        this.crash(sn.id, this.rng.pick([1, 3, 20]));
        return;
      }
      if (rd.softState?.raftState === StateType.LEADER) {
        this.stats.leaders++;
        this.checker.onLeader(sn.id, sn.node.raft.term);
        this.onNewLeader(sn.id);
      }
      for (const m of rd.messages) if (!canSendBeforePersist(m)) this.send(m);
      if (rd.snapshot) {
        sn.kv = KvMachine.restore(rd.snapshot.data);
        sn.lastSnapshotIndex = snapIndex!;
      }
      this.applyEntries(sn, rd.committedEntries);
      for (const rs of rd.readStates) sn.readyReads.push({ index: rs.index, ctx: new TextDecoder().decode(rs.requestCtx) });
      sn.node.advance(rd);
      this.serveReads(sn);
      this.maybeSnapshot(sn);
      if (!this.live.has(sn.id)) return; // removed from the cluster while applying
    }
  }

  private applyEntries(sn: SimNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      this.checker.onApply(sn.id, e);
      if (e.type === EntryType.ENTRY_CONF_CHANGE) this.applyConfChange(sn, e.index, ConfChangeCodec.decode(e.data));
      else if (e.data.byteLength > 0) this.applyWrite(sn, e.data);
    }
  }

  private applyWrite(sn: SimNode, data: Uint8Array): void {
    const cmd = decodeCommand(data);
    sn.kv.apply(cmd);
    const key = `${cmd.c}:${cmd.s}`;
    for (const req of sn.pendingWrites.get(key) ?? []) this.respond(req, {});
    sn.pendingWrites.delete(key);
  }

  private applyConfChange(sn: SimNode, index: number, cc: ConfChange): void {
    const conf = sn.node.applyConfChange(cc);
    if (index > this.committedConf.index) {
      this.committedConf = { index, conf };
      if (cc.type === ConfChangeType.CONF_CHANGE_REMOVE_NODE) {
        // The removal is committed: the node leaves for good.
        this.removed.add(cc.nodeId);
        this.live.delete(cc.nodeId);
        this.crashedUntil.delete(cc.nodeId);
      }
    }
  }

  private serveReads(sn: SimNode): void {
    const applied = sn.node.raft.raftLog.applied;
    for (let i = 0; i < sn.readyReads.length; ) {
      const r = sn.readyReads[i]!;
      if (r.index > applied) {
        i++;
        continue;
      }
      sn.readyReads.splice(i, 1);
      const req = sn.pendingReads.get(r.ctx);
      if (!req) continue;
      sn.pendingReads.delete(r.ctx);
      this.respond(req, { value: sn.kv.get(req.key) });
    }
  }

  private maybeSnapshot(sn: SimNode): void {
    const applied = sn.node.raft.raftLog.applied;
    if (applied - sn.lastSnapshotIndex < this.profile.snapshotEvery) return;
    const data = sn.kv.serialize();
    this.checker.onStateAt(sn.id, applied, data);
    sn.disk.createSnapshot(applied, sn.node.raft.prs.confState(), data);
    sn.disk.compact(Math.max(sn.disk.firstIndex(), applied - this.profile.keepAfterSnapshot));
    sn.lastSnapshotIndex = applied;
  }

  /** With probability `p` (when this schedule has a nemesis), crashes `id` after `afterSteps`. */
  private nemesis(p: number, id: number, afterSteps: number): void {
    if (!this.faulty || !this.profile.nemesis || !this.rng.chance(p)) return;
    this.schedule(afterSteps, { kind: "crash", node: id, downTicks: this.rng.pick([1, 3, 20]) });
  }

  /** Nemesis: a new leader is often cut off or killed before it can replicate anything. */
  private onNewLeader(id: number): void {
    if (!this.faulty || !this.profile.nemesis || !this.rng.chance(0.5)) return;
    if (this.rng.chance(0.5)) this.isolate(id, this.rng.pick([5, 20, 60]));
    else this.nemesis(1, id, this.rng.int(0, 15));
  }

  private crash(id: number, downTicks: number): void {
    if (!this.live.delete(id)) return;
    this.stats.crashes++;
    this.crashedUntil.set(id, this.tick + downTicks);
  }

  private restart(id: number): void {
    this.crashedUntil.delete(id);
    if (this.removed.has(id)) return;
    const sn = new SimNode(id, this.disks.get(id)!, this);
    this.live.set(id, sn);
    this.process(sn);
  }

  // ---- network -----------------------------------------------------------------------------

  private isCut(from: number, to: number): boolean {
    const key = `${from}>${to}`;
    return this.partitions.some((p) => p.cuts.has(key));
  }

  private schedule(delay: number, ev: SimEvent): void {
    const at = this.step + Math.max(1, delay);
    const list = this.events.get(at);
    if (list) list.push(ev);
    else this.events.set(at, [ev]);
  }

  private delay(): number {
    return this.faulty ? this.rng.int(1, this.profile.maxDelay) : this.rng.int(1, 3);
  }

  private send(m: Message): void {
    const bytes = MessageCodec.encode(m);
    const snapshot = m.type === MessageType.MSG_SNAP;
    if (snapshot) this.stats.snapshotsSent++;
    // Nemesis: a node dies just after granting a vote, and comes back having persisted it.
    if (m.type === MessageType.MSG_VOTE_RESP && !m.reject) this.nemesis(0.2, m.from, 0);
    if (this.faulty && this.rng.chance(this.profile.drop)) {
      if (snapshot) this.reportSnapshot(m.from, m.to, SnapshotStatus.FAILURE);
      return;
    }
    this.schedule(this.delay(), { kind: "message", from: m.from, to: m.to, bytes, snapshot });
    if (this.faulty && this.rng.chance(this.profile.duplicate)) {
      this.schedule(this.delay(), { kind: "message", from: m.from, to: m.to, bytes, snapshot });
    }
  }

  private reportSnapshot(from: number, to: number, status: SnapshotStatus): void {
    const sender = this.live.get(from);
    if (!sender) return;
    sender.node.reportSnapshot(to, status);
    this.process(sender);
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case "message": {
        const target = this.live.get(ev.to);
        if (!target || this.isCut(ev.from, ev.to)) {
          if (ev.snapshot) this.reportSnapshot(ev.from, ev.to, SnapshotStatus.FAILURE);
          return;
        }
        const m = MessageCodec.decode(ev.bytes);
        try {
          target.node.step(m);
        } catch (err) {
          // As a manager does: a refusal of a forwarded request that came back to the node that
          // made it (a read or proposal bounced between two followers) is dropped; its client times out.
          if (!(err instanceof RaftError)) throw err;
        }
        // As a manager does: a leader applies what an acknowledgement commits at once.
        if (m.type === MessageType.MSG_APP_RESP && target.node.raft.state === StateType.LEADER) {
          this.applyEntries(target, target.node.takeCommittedEntries());
          if (this.live.get(target.id) !== target) return; // removed from the cluster while applying
        }
        this.process(target);
        if (ev.snapshot) this.reportSnapshot(ev.from, ev.to, SnapshotStatus.FINISH);
        return;
      }
      case "request":
        this.handleRequest(ev);
        return;
      case "response":
        this.handleResponse(ev);
        return;
      case "crash":
        this.crash(ev.node, ev.downTicks);
        return;
    }
  }

  // ---- clients -----------------------------------------------------------------------------

  private respond(req: PendingRequest, output: KvOutput): void {
    this.schedule(this.rng.int(1, 3), { kind: "response", clientId: req.clientId, seq: req.seq, output });
  }

  private handleRequest(ev: Extract<SimEvent, { kind: "request" }>): void {
    const sn = this.live.get(ev.node);
    if (!sn) return; // lost: the client will time out
    const redirect = (leader: number): void =>
      this.schedule(this.rng.int(1, 3), { kind: "response", clientId: ev.clientId, seq: ev.seq, redirect: leader });
    const req: PendingRequest = { clientId: ev.clientId, seq: ev.seq };
    try {
      if (ev.input.kind === "put") {
        if (sn.node.raft.state !== StateType.LEADER) return redirect(sn.node.leader);
        const key = `${ev.clientId}:${ev.seq}`;
        sn.node.propose(encodeCommand({ c: ev.clientId, s: ev.seq, k: ev.input.key, v: ev.input.value }));
        const waiting = sn.pendingWrites.get(key);
        if (waiting) waiting.push(req);
        else sn.pendingWrites.set(key, [req]);
      } else if (this.options.bug === "stale-read") {
        this.respond(req, { value: sn.kv.get(ev.input.key) });
      } else {
        const ctx = `${ev.clientId}:${ev.seq}:${ev.attempt}:${sn.id}`;
        sn.pendingReads.set(ctx, { ...req, key: ev.input.key });
        sn.node.readIndex(new TextEncoder().encode(ctx));
      }
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      redirect(err.leader);
    }
    this.process(sn);
  }

  private handleResponse(ev: Extract<SimEvent, { kind: "response" }>): void {
    const client = this.clients[ev.clientId - 1]!;
    const op = client.current;
    if (!op || op.seq !== ev.seq) return; // an answer to an operation already finished
    if (ev.redirect !== undefined) {
      client.leaderGuess = ev.redirect !== 0 ? ev.redirect : this.rng.pick(this.memberIds());
      this.sendAttempt(client, op);
      return;
    }
    const h = this.history[op.historyIndex]!;
    h.output = ev.output;
    h.return = this.step;
    client.current = undefined;
    client.idleUntil = this.step + this.rng.int(0, 2 * STEPS_PER_TICK);
  }

  private memberIds(): number[] {
    const ids = [...this.committedConf.conf.voters, ...this.committedConf.conf.learners];
    return ids.length > 0 ? ids : [...this.live.keys()];
  }

  private sendAttempt(client: SimClient, op: ClientOp): void {
    op.attempt++;
    op.deadline = this.step + CLIENT_TIMEOUT_STEPS;
    this.schedule(this.rng.int(1, 3), {
      kind: "request", node: client.leaderGuess, clientId: client.id, seq: op.seq, input: op.input, attempt: op.attempt,
    });
  }

  private driveClient(client: SimClient): void {
    const op = client.current;
    if (op) {
      if (this.step >= op.deadline) {
        client.leaderGuess = this.rng.pick(this.memberIds());
        this.sendAttempt(client, op);
      }
      return;
    }
    if (!this.faulty || this.step < client.idleUntil) return;
    const key = this.rng.pick(KEYS);
    client.seq++;
    const input: KvInput = this.rng.chance(0.5)
      ? { kind: "put", key, value: `c${client.id}-${client.seq}` }
      : { kind: "get", key };
    this.history.push({ clientId: client.id, input, call: this.step, return: Infinity });
    client.current = { seq: client.seq, input, historyIndex: this.history.length - 1, deadline: 0, attempt: 0 };
    this.sendAttempt(client, client.current);
  }

  // ---- faults and the operator -------------------------------------------------------------

  private everyTick(): void {
    const tick = this.tick;
    for (const [id, until] of this.crashedUntil) if (until <= tick) this.restart(id);
    this.partitions = this.partitions.filter((p) => p.until > tick);
    if (!this.faulty) return;
    const p = this.profile;
    if (this.rng.chance(p.crashPerTick)) {
      const leader = this.leader();
      const target = leader !== undefined && this.rng.chance(0.5) ? leader : this.rng.pick([...this.live.keys()]);
      this.crash(target, this.rng.pick([1, 5, 20, 60]));
    }
    if (this.rng.chance(p.partitionPerTick)) this.partition();
    if (this.rng.chance(p.confChangePerTick)) this.changeMembership();
    if (this.rng.chance(p.transferPerTick)) this.transferLeadership();
  }

  /** Asks the leader to hand leadership to another voter (which may be down or cut off). */
  private transferLeadership(): void {
    const leaderId = this.leader();
    if (leaderId === undefined) return;
    const sn = this.live.get(leaderId)!;
    const others = sn.node.raft.prs.confState().voters.filter((v) => v !== leaderId);
    if (others.length === 0) return;
    sn.node.transferLeadership(this.rng.pick(others));
    this.stats.transfers++;
    this.process(sn);
  }

  private leader(): number | undefined {
    let best: SimNode | undefined;
    for (const sn of this.live.values()) {
      if (sn.node.raft.state === StateType.LEADER && (!best || sn.node.raft.term > best.node.raft.term)) best = sn;
    }
    return best?.id;
  }

  private partition(): void {
    const ids = [...this.live.keys(), ...this.crashedUntil.keys()];
    if (ids.length < 2) return;
    const cuts = new Set<string>();
    const cutBoth = (a: number, b: number): void => {
      cuts.add(`${a}>${b}`);
      cuts.add(`${b}>${a}`);
    };
    const kind = this.rng.int(0, 3);
    if (kind === 0 || kind === 1) {
      // Isolate one node: the leader or anyone.
      const leader = this.leader();
      this.isolate(kind === 0 && leader !== undefined ? leader : this.rng.pick(ids), this.rng.pick([5, 20, 60]));
      return;
    } else if (kind === 2) {
      // Split in two random groups.
      const shuffled = this.rng.shuffle(ids);
      const cut = this.rng.int(1, ids.length - 1);
      for (const a of shuffled.slice(0, cut)) for (const b of shuffled.slice(cut)) cutBoth(a, b);
    } else {
      // Asymmetric: some links work one way only.
      const n = this.rng.int(1, ids.length);
      for (let i = 0; i < n; i++) {
        const [a, b] = this.rng.shuffle(ids);
        cuts.add(`${a}>${b}`);
      }
    }
    this.stats.partitions++;
    this.partitions.push({ cuts, until: this.tick + this.rng.pick([5, 20, 60]) });
  }

  /** Cuts `victim` off from every other node for `ticks`. */
  private isolate(victim: number, ticks: number): void {
    const cuts = new Set<string>();
    for (const other of [...this.live.keys(), ...this.crashedUntil.keys()]) {
      if (other === victim) continue;
      cuts.add(`${victim}>${other}`);
      cuts.add(`${other}>${victim}`);
    }
    this.stats.partitions++;
    this.partitions.push({ cuts, until: this.tick + ticks });
  }

  private changeMembership(): void {
    const leaderId = this.leader();
    if (leaderId === undefined) return;
    const sn = this.live.get(leaderId)!;
    // Wait a while between changes; the core refuses overlapping ones anyway.
    if (this.tick - this.confProposedAt < 20) return;
    const { voters, learners } = sn.node.raft.prs.confState();
    const n = this.options.nodes;
    const options: ConfChange[] = [];
    const cc = (type: ConfChangeType, nodeId: number): ConfChange => ({ type, nodeId, context: new Uint8Array() });
    if (voters.length + learners.length < n + 2 && learners.length === 0) options.push(cc(ConfChangeType.CONF_CHANGE_ADD_LEARNER, this.nextNodeId));
    for (const l of learners) options.push(cc(ConfChangeType.CONF_CHANGE_ADD_NODE, l));
    if (voters.length > Math.max(3, n - 1)) for (const v of voters) options.push(cc(ConfChangeType.CONF_CHANGE_REMOVE_NODE, v));
    if (options.length === 0) return;
    const change = this.rng.pick(options);
    try {
      sn.node.proposeConfChange(change);
    } catch (err) {
      if (err instanceof RaftError) return;
      throw err;
    }
    this.confProposedAt = this.tick;
    this.stats.confChanges++;
    if (change.type === ConfChangeType.CONF_CHANGE_ADD_LEARNER) {
      const id = this.nextNodeId++;
      const disk = new MemoryStorage();
      this.disks.set(id, disk);
      this.checker.newEmptyNode(id);
      this.live.set(id, new SimNode(id, disk, this));
    }
    this.process(sn);
  }

  // ---- the end -----------------------------------------------------------------------------

  private healAndCheckLiveness(): void {
    this.partitions = [];
    for (const id of [...this.crashedUntil.keys()]) this.restart(id);
    const healedAt = this.tick;
    const pendingAtHeal = this.clients.filter((c) => c.current).length;
    const deadline = (healedAt + LIVENESS_TICKS) * STEPS_PER_TICK;
    while (this.step < deadline && this.checker.violations.length === 0) {
      this.runStep();
      if (this.step % STEPS_PER_TICK === 0 && this.settled()) return;
    }
    if (this.checker.violations.length > 0) return;
    const open = this.clients.filter((c) => c.current).map((c) => `client ${c.id} op ${c.current!.seq}`);
    const leader = this.leader();
    this.checker.violations.push(
      `liveness: ${LIVENESS_TICKS} ticks after the faults healed (tick ${healedAt}): ` +
      `leader ${leader ?? "none"}; ${open.length} of ${pendingAtHeal} pending operations still open (${open.join(", ")}); ` +
      `members ${JSON.stringify(this.committedConf.conf)}; ${this.describeNodes()}`,
    );
  }

  /** Each member's role, term, log and (on the leader) what it knows of the others. */
  private describeNodes(): string {
    return this.memberIds().map((id) => {
      const sn = this.live.get(id);
      if (!sn) return `${id}: down`;
      const st = sn.node.status();
      const progress = st.progress
        ? ` progress{${[...st.progress].map(([p, pr]) => `${p}:${pr.state} m${pr.match} n${pr.next}${pr.recentActive ? "" : " inactive"}`).join(", ")}}`
        : "";
      return `${id}: ${st.softState.raftState} term ${st.hardState.term} lead ${st.softState.lead} last ${st.lastIndex} ` +
        `commit ${st.hardState.commit} applied ${st.applied}${progress}`;
    }).join("; ");
  }

  /** A leader of the highest term serves, no operation is open, and every member caught up. */
  private settled(): boolean {
    if (this.clients.some((c) => c.current)) return false;
    const leaderId = this.leader();
    if (leaderId === undefined) return false;
    const leader = this.live.get(leaderId)!.node.raft;
    const members = this.memberIds();
    if (!members.includes(leaderId)) return false;
    for (const id of members) {
      const sn = this.live.get(id);
      if (!sn || sn.node.raft.term > leader.term) return false;
      if (sn.node.raft.raftLog.applied !== leader.raftLog.committed) return false;
    }
    const states = new Set(members.map((id) => new TextDecoder().decode(this.live.get(id)!.kv.serialize())));
    return states.size === 1;
  }
}

/** Runs one schedule. */
export function runSchedule(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
