/**
 * A manager's Raft node: the core (RawNode) driven by a tick timer and a Ready loop, with
 * durable storage, a transport, and the replicated state machine on top.
 *
 * The Ready loop applies committed entries (resolving the proposals they answer) and persists
 * (synced) what is new before it sends the messages that depend on it. Steps and proposals
 * that arrive while a Ready is being persisted accumulate in the core and are persisted together
 * with the next Ready: that is the group commit that lets many concurrent writers share one
 * fsync. On the leader, their appends go out at once all the same (see `kick`).
 */
import type { ConfChange, Entry, Message } from "../../proto/gen/raft.ts";
import { ConfChangeCodec, ConfChangeType, EntryType, MessageType } from "../../proto/gen/raft.ts";
import type { RaftMember } from "../../proto/gen/raftrpc.ts";
import { RaftMemberCodec } from "../../proto/gen/raftrpc.ts";
import { AnswerQueue } from "./answer-queue.ts";
import { RAFT_DEFAULTS } from "./config.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import type { LevelStorage } from "./level-storage.ts";
import { Members } from "./members.ts";
import { ProgressState } from "./progress.ts";
import { StateType } from "./raft.ts";
import { RawNode } from "./raw-node.ts";
import { WaitingList } from "./waiting-list.ts";
import type { Ready, SnapshotStatus } from "./raw-node.ts";
import type { Proposer, StateMachine } from "./state-machine.ts";

/** What the node needs from the network. */
export interface RaftTransport {
  /** Sends messages to their `to` members (best effort: Raft retransmits what is lost). */
  send(messages: Message[]): void;
  /**
   * Keeps a connection open to every other member, and none to anyone else; called every tick.
   * In Raft only the leader talks to followers, so without this the first message of an
   * election waits for a connection and its TLS handshake (7–39 ms between idle managers on
   * loopback), and two followers whose timeouts fall that close together both become candidates
   * and split the vote: the next try comes a whole election timeout later.
   */
  keepConnected(): void;
}

/** Settings of a manager's Raft node. */
export interface RaftNodeOptions<R> {
  /** This manager's raft id. */
  raftId: number;
  /** Durable Raft state. */
  storage: LevelStorage;
  /** The replicated state. */
  stateMachine: StateMachine<R>;
  /** Milliseconds per tick. */
  tickMs?: number;
  /** Ticks of the election timeout. */
  electionTick?: number;
  /** Ticks between heartbeats. */
  heartbeatTick?: number;
  /**
   * Applied entries between snapshots of the state, at least; a snapshot also waits until the
   * log written since the last one is as large as that snapshot (see `maybeSnapshot`).
   */
  snapshotInterval?: number;
  /** Entries kept in the log after a snapshot, so followers that lag a little get entries. */
  keepEntriesAfterSnapshot?: number;
  /** Milliseconds a proposal may wait for its commit. */
  proposalTimeoutMs?: number;
  /** Randomness for elections. */
  random?: () => number;
  /**
   * For a manager joining with empty storage: the members the leader named when it accepted
   * the join, so this manager can answer them before the first snapshot arrives.
   */
  peers?: RaftMember[];
}

/** Defaults of a manager's Raft node, each with its reason. */
export const RAFT_NODE_DEFAULTS = {
  /** 100 ms ticks and 10-tick elections: a dead leader is replaced in about 2 s (DESIGN.md). */
  tickMs: 100,
  /** Snapshots this often keep restarts and catch-up quick without snapshotting all the time. */
  snapshotInterval: 10_000,
  /** A follower a few hundred entries behind catches up with entries, not a whole snapshot. */
  keepEntriesAfterSnapshot: 500,
  /** Long enough to ride out a leader election (2 s), short enough for a client to retry. */
  proposalTimeoutMs: 8_000,
} as const;

/**
 * A state large enough for `snapshotInterval` not to decide is snapshotted once the log written
 * since the last snapshot is this many times that snapshot's size: the Raft thesis's "expansion
 * factor" (§5.1.1). Snapshots then take about a third of what goes to disk instead of half (the
 * factor of 1 used before 2026-12-05), for a log on disk and in memory of up to twice the state.
 * What that saved a growing store is in test/bench/HISTORY.md ("Snapshots of a growing store").
 */
const SNAPSHOT_LOG_FACTOR = 2;

/**
 * Writers a commit answers at once; those beyond wait for the next turn of the event loop
 * (answer-queue.ts). With 64 writers this gave about a fifth more throughput than answering a
 * whole commit at once, and with 256 writers a little more at the same p99 (test/bench/HISTORY.md).
 */
const ANSWERS_AT_ONCE = 32;

/** Bytes of the proposal id in front of a proposal's data. */
export const PROPOSAL_ID_BYTES = 8;

/** A proposal waiting to be applied. */
interface PendingProposal<R> {
  resolve: (r: R) => void;
  reject: (err: Error) => void;
  /** When it fails if not applied by then (Date.now() milliseconds). */
  deadline: number;
}

/** A membership change waiting to be applied. */
interface PendingConfChange {
  type: ConfChangeType;
  raftId: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A manager's Raft node. */
export class RaftNode<R> implements Proposer<R> {
  /** The core. */
  readonly node: RawNode;
  /** Who is in the group, and where. */
  readonly members = new Members();
  private readonly opts: Required<Omit<RaftNodeOptions<R>, "random" | "peers">>;
  private transport: RaftTransport | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private processing = false;
  /** A Ready with a snapshot is being persisted; its state is applied once it is on disk. */
  private installingSnapshot = false;
  private scheduled = false;
  private stopped = false;
  /**
   * Proposals made here and not yet applied, by the counter in their id; in the order they were
   * made, which is also the order of their deadlines.
   */
  private readonly pending = new WaitingList<PendingProposal<R>>();
  /** Proposals waiting for the next turn of the loop, to be proposed together (see `proposeQueued`). */
  private queued: { data: Uint8Array; key: number }[] = [];
  /** Results of this node's applied proposals, on their way to the writers. */
  private readonly answers = new AnswerQueue<R>(ANSWERS_AT_ONCE);
  private pendingConf: PendingConfChange | undefined;
  private proposalCounter = 0;
  private readonly proposalPrefix: number;
  private lastSnapshotIndex: number;
  /** Bytes of the last snapshot taken or installed. */
  private lastSnapshotBytes: number;
  /** Bytes of entry data applied since the last snapshot. */
  private bytesSinceSnapshot = 0;
  /** This manager's random stretch of the next snapshot's thresholds, 0 to 10%. */
  private snapshotJitter: number;
  private snapshotInFlight = false;
  private readonly random: () => number;
  private wasLeader = false;
  private readonly leadershipListeners: ((isLeader: boolean) => void)[] = [];
  private readonly lastHeard = new Map<number, number>();
  private loopError: Error | undefined;

  /** Opens a node over storage that was bootstrapped, joined or restarted. */
  constructor(options: RaftNodeOptions<R>) {
    this.opts = {
      tickMs: RAFT_NODE_DEFAULTS.tickMs,
      electionTick: RAFT_DEFAULTS.electionTick,
      heartbeatTick: RAFT_DEFAULTS.heartbeatTick,
      snapshotInterval: RAFT_NODE_DEFAULTS.snapshotInterval,
      keepEntriesAfterSnapshot: RAFT_NODE_DEFAULTS.keepEntriesAfterSnapshot,
      proposalTimeoutMs: RAFT_NODE_DEFAULTS.proposalTimeoutMs,
      // Options left undefined keep their defaults.
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as Required<Omit<RaftNodeOptions<R>, "random" | "peers">>;
    const random = options.random ?? Math.random;
    this.random = random;
    this.proposalPrefix = Math.floor(random() * 2 ** 32) >>> 0;
    this.snapshotJitter = random() / 10;
    const snap = options.storage.snapshot();
    this.lastSnapshotIndex = snap.metadata!.index;
    this.lastSnapshotBytes = snap.data.byteLength;
    if (snap.data.byteLength > 0) {
      options.stateMachine.restore(snap.metadata!.index, this.members.restoreSnapshot(snap.data));
    } else {
      for (const peer of options.peers ?? []) this.members.set(peer);
    }
    this.node = new RawNode({
      id: options.raftId,
      storage: options.storage,
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      random,
    });
  }

  /**
   * Writes the initial state of a new cluster into empty storage: a snapshot at index 1 whose
   * only member is this manager, holding the state machine's (empty) state.
   */
  static async bootstrap<R>(storage: LevelStorage, self: RaftMember, stateMachine: StateMachine<R>): Promise<void> {
    const members = new Members();
    members.set(self);
    await storage.save({
      snapshot: {
        data: members.wrapSnapshot(stateMachine.snapshot()),
        metadata: { index: 1, term: 1, confState: { voters: [self.raftId], learners: [] } },
      },
      entries: [],
      hardState: { term: 1, vote: 0, commit: 1 },
    });
  }

  /** Connects the transport (after construction, since the transport needs the members). */
  setTransport(transport: RaftTransport): void {
    this.transport = transport;
  }

  /** Starts ticking; a single-member group elects itself at once. */
  start(): void {
    this.ticker = setInterval(() => {
      this.node.tick();
      this.transport?.keepConnected();
      this.expireProposals();
      this.kick();
    }, this.opts.tickMs);
    const st = this.node.status();
    if (st.confState.voters.length === 1 && st.confState.voters[0] === this.opts.raftId) this.node.campaign();
    this.kick();
  }

  /** Stops ticking and fails what is pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.queued = [];
    this.failPending(new RaftError(RaftErrorCode.PROPOSAL_DROPPED, "this manager is shutting down", 0));
    while (this.processing) await new Promise((r) => setTimeout(r, 5));
  }

  /** Registers a callback told when this manager gains or loses leadership. */
  onLeadershipChange(listener: (isLeader: boolean) => void): void {
    this.leadershipListeners.push(listener);
  }

  /** This manager's raft id. */
  get raftId(): number {
    return this.opts.raftId;
  }

  /** Whether this manager leads now. */
  get isLeader(): boolean {
    return this.node.raft.state === StateType.LEADER;
  }

  /** The Raft term this manager is in. */
  get term(): number {
    return this.node.raft.term;
  }

  /** The raft id of the leader this manager knows of (0 when none). */
  get leader(): number {
    return this.node.leader;
  }

  /** Feeds a message from a peer. */
  step(m: Message): void {
    if (this.stopped) return;
    if (this.members.isRemoved(m.from)) return; // a removed member is not listened to
    this.lastHeard.set(m.from, Date.now());
    try {
      this.node.step(m);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
    }
    // An acknowledgement may commit entries: apply them now rather than after the disk write
    // under way (writers are answered a write sooner). Not while a snapshot is being installed.
    if (m.type === MessageType.MSG_APP_RESP && this.isLeader && !this.installingSnapshot) {
      for (const e of this.node.takeCommittedEntries()) this.applyEntry(e);
    }
    this.kick();
  }

  /** The transport could not reach `raftId`. */
  reportUnreachable(raftId: number): void {
    this.node.reportUnreachable(raftId);
    this.kick();
  }

  /** How sending a snapshot to `raftId` ended. */
  reportSnapshot(raftId: number, status: SnapshotStatus): void {
    this.node.reportSnapshot(raftId, status);
    this.kick();
  }

  // ---- proposals ---------------------------------------------------------------------------

  /**
   * {@inheritDoc Proposer.propose}
   *
   * `data` is copied in the next turn of the event loop, with the other proposals of this one
   * (see `frame`): it must not change before.
   */
  propose(data: Uint8Array, signal?: AbortSignal): Promise<R> {
    try {
      this.checkCanWrite();
    } catch (err) {
      return Promise.reject(err);
    }
    const key = (this.proposalCounter = (this.proposalCounter + 1) >>> 0);
    return new Promise<R>((resolve, reject) => {
      this.pending.add(key, { resolve, reject, deadline: Date.now() + this.opts.proposalTimeoutMs });
      signal?.addEventListener("abort", () => {
        this.takePending(key)?.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      }, { once: true });
      this.queued.push({ data, key });
      this.kick();
    });
  }

  /**
   * Hands the proposals made since the last turn to the core as one batch: it appends them
   * together and replicates them in one append message per follower, where proposing them one
   * by one costs a message (and an answer) per proposal and follower. A batch the core refuses
   * (no longer the leader, a transfer in progress) fails every proposal in it.
   */
  private proposeQueued(): void {
    if (this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    try {
      this.node.proposeBatch(this.frame(batch));
    } catch (err) {
      for (const { key } of batch) this.takePending(key)?.reject(err as Error);
    }
  }

  /**
   * Each proposal's data behind its id (this node's random prefix, then its key; see
   * `applyEntry`), all in one buffer: the entries stay in the log until a snapshot, and a buffer
   * each would cost the collector a record to sweep per entry (see byte-slab.ts).
   */
  private frame(batch: { data: Uint8Array; key: number }[]): Uint8Array[] {
    let size = 0;
    for (const { data } of batch) size += PROPOSAL_ID_BYTES + data.byteLength;
    const buffer = new Uint8Array(size);
    const ids = new DataView(buffer.buffer);
    let offset = 0;
    return batch.map(({ data, key }) => {
      ids.setUint32(offset, this.proposalPrefix);
      ids.setUint32(offset + 4, key);
      buffer.set(data, offset + PROPOSAL_ID_BYTES);
      const framed = buffer.subarray(offset, offset + PROPOSAL_ID_BYTES + data.byteLength);
      offset += framed.byteLength;
      return framed;
    });
  }

  /**
   * Fails the proposals whose time is up (at each tick: one sweep instead of a timer per
   * proposal); they were made in deadline order, so the sweep stops at the first one still in time.
   */
  private expireProposals(): void {
    const now = Date.now();
    for (const [key, p] of this.pending.entries()) {
      if (p.deadline > now) return;
      this.takePending(key)?.reject(new RaftError(RaftErrorCode.PROPOSAL_DROPPED,
        `the write was not committed within ${this.opts.proposalTimeoutMs} ms; it may or may not be applied later`, this.leader));
    }
  }

  /**
   * Throws, saying why, when a write cannot succeed now: not the leader (naming it), or the
   * leader cannot reach a majority (naming how many managers it reaches).
   */
  checkCanWrite(): void {
    if (this.stopped) throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED, "this manager is shutting down", 0);
    const { reachable, total } = this.reachability();
    if (!this.isLeader) {
      if (this.leader === 0) {
        throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED,
          `no leader elected: the cluster may have lost quorum (${reachable} of ${total} managers reachable, ${Math.floor(total / 2) + 1} needed)`, 0);
      }
      throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED, `this manager is not the leader; the leader is ${this.leader}`, this.leader);
    }
    if (reachable < Math.floor(total / 2) + 1) {
      throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED,
        `quorum lost: ${reachable} of ${total} managers reachable, ${Math.floor(total / 2) + 1} needed`, this.leader);
    }
  }

  /**
   * How many voting managers this one can reach (itself included) and how many there are: the
   * ones it heard from within two election timeouts. A leader hears from every live member each
   * heartbeat; a manager without a leader hears from the live ones while they campaign.
   */
  reachability(): { reachable: number; total: number } {
    const { voters } = this.node.raft.prs;
    let reachable = 0;
    for (const id of voters) if (this.memberReachable(id)) reachable++;
    return { reachable, total: voters.size };
  }

  /** Whether member `raftId` is reachable: this manager itself, or heard from recently. */
  memberReachable(raftId: number): boolean {
    return raftId === this.opts.raftId || this.heardFromRecently(raftId);
  }

  /** Why removing voter `raftId` would lose quorum now, or undefined when it is safe. */
  removalRefusal(raftId: number): string | undefined {
    const { voters } = this.node.raft.prs.confState();
    if (!voters.includes(raftId)) return undefined;
    const remaining = voters.filter((v) => v !== raftId);
    const reachable = remaining.filter((v) => this.memberReachable(v)).length;
    const needed = Math.floor(remaining.length / 2) + 1;
    if (reachable >= needed) return undefined;
    return `removing this manager would lose quorum: ${reachable} of the remaining ${remaining.length} managers are reachable, ${needed} needed`;
  }

  private heardFromRecently(id: number): boolean {
    const window = 2 * this.opts.electionTick * this.opts.tickMs;
    return Date.now() - (this.lastHeard.get(id) ?? 0) < window;
  }

  // ---- membership --------------------------------------------------------------------------

  /**
   * On the leader: adds a manager as a learner (it catches up first; `promoteCaughtUpLearners`
   * makes it a voter). Returns its raft id. A node that is already a member keeps its id.
   */
  async addLearner(nodeId: string, addr: string, random: () => number = Math.random): Promise<number> {
    const existing = this.members.byNodeId(nodeId);
    if (existing) return existing.raftId;
    let raftId = 0;
    while (raftId === 0 || this.members.get(raftId) || this.members.isRemoved(raftId)) {
      raftId = 1 + Math.floor(random() * (2 ** 48 - 1));
    }
    const context = RaftMemberCodec.encode({ raftId, nodeId, addr });
    await this.changeMembership({ type: ConfChangeType.CONF_CHANGE_ADD_LEARNER, nodeId: raftId, context });
    return raftId;
  }

  /** On the leader: promotes learners that have caught up with the log. Call it periodically. */
  async promoteCaughtUpLearners(): Promise<void> {
    if (!this.isLeader || this.pendingConf) return;
    const st = this.node.status();
    for (const [id, pr] of st.progress ?? []) {
      if (pr.learner && pr.state === ProgressState.REPLICATE && pr.match >= st.hardState.commit) {
        const member = this.members.get(id);
        const context = member ? RaftMemberCodec.encode(member) : new Uint8Array();
        await this.changeMembership({ type: ConfChangeType.CONF_CHANGE_ADD_NODE, nodeId: id, context });
        return;
      }
    }
  }

  /**
   * On the leader: removes a manager from the group. Refused when the remaining voters could
   * not form a majority with the managers reachable now.
   */
  async removeMember(raftId: number): Promise<void> {
    const refusal = this.removalRefusal(raftId);
    if (refusal) throw new RaftError(RaftErrorCode.CONF_CHANGE_REFUSED, refusal, this.leader);
    await this.changeMembership({ type: ConfChangeType.CONF_CHANGE_REMOVE_NODE, nodeId: raftId, context: new Uint8Array() });
  }

  private async changeMembership(cc: ConfChange): Promise<void> {
    if (this.pendingConf) {
      throw new RaftError(RaftErrorCode.CONF_CHANGE_REFUSED, "another membership change is in progress", this.leader);
    }
    // A leader takes no change before its first entry of the term is applied (raft.ts), nor
    // while an earlier change is unapplied: wait for that (briefly) rather than refuse.
    const deadline = Date.now() + 2 * this.opts.electionTick * this.opts.tickMs;
    while (this.isLeader && this.node.raft.pendingConfIndex > this.node.raft.raftLog.applied && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, this.opts.tickMs / 4));
    }
    return new Promise<void>((resolve, reject) => {
      try {
        this.node.proposeConfChange(cc);
      } catch (err) {
        reject(err);
        return;
      }
      this.pendingConf = { type: cc.type, raftId: cc.nodeId, resolve, reject };
      this.kick();
    });
  }

  /** On the leader: hands leadership to `raftId` and waits (up to an election timeout) for it. */
  async transferLeadership(raftId: number): Promise<void> {
    this.node.transferLeadership(raftId);
    this.kick();
    const deadline = Date.now() + 2 * this.opts.electionTick * this.opts.tickMs;
    while (Date.now() < deadline) {
      if (this.leader === raftId) return;
      await new Promise((r) => setTimeout(r, this.opts.tickMs / 2));
    }
    throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED, `leadership did not move to ${raftId} in time`, this.leader);
  }

  // ---- the Ready loop ----------------------------------------------------------------------

  /**
   * Runs the loop in the next turn of the event loop, once for everything that happened in this
   * one. While a Ready is being persisted, the leader's appends of what was proposed since go out
   * in that turn, not after the disk write: a majority of followers can commit them without the
   * leader's own disk (thesis §10.2.1), so a slow write on the leader no longer holds up every
   * write behind it; its own copy is persisted with the next Ready.
   */
  private kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.proposeQueued();
      if (this.processing) this.sendBeforePersist();
      void this.processReadies();
    });
  }

  /** Sends the messages made so far that need not wait for a disk write (see `takeMessagesSendableBeforePersist`). */
  private sendBeforePersist(): void {
    if (!this.transport) return;
    const messages = this.node.takeMessagesSendableBeforePersist();
    if (messages.length > 0) this.transport.send(messages);
  }

  private async processReadies(): Promise<void> {
    if (this.processing || this.loopError) return;
    this.processing = true;
    try {
      while (!this.stopped && this.node.hasReady()) {
        // The leader's appends go out before its own disk write (it counts its own entries only
        // once persisted); the Ready's messages, all the others, wait for the disk.
        this.sendBeforePersist();
        if (!this.node.hasReady()) break;
        const rd = this.node.ready();
        // Committed entries are on the disks of a majority already, so they are applied (and
        // their writers answered) while this Ready's own writes go to disk, as etcd does: a
        // write's answer does not wait for the next one's fsync. A snapshot from the leader
        // is installed only once it is on disk.
        if (!rd.snapshot) this.applyReady(rd);
        this.installingSnapshot = rd.snapshot !== undefined;
        await this.opts.storage.save(rd);
        this.installingSnapshot = false;
        if (this.transport && rd.messages.length > 0) this.transport.send(rd.messages);
        if (rd.snapshot) this.applyReady(rd);
        this.node.advance(rd);
        this.maybeSnapshot();
      }
    } catch (err) {
      // A failed disk write leaves the node unable to keep its promises: stop taking part.
      this.loopError = err as Error;
      this.failPending(new RaftError(RaftErrorCode.PROPOSAL_DROPPED, `raft storage failed: ${(err as Error).message}`, 0));
      if (this.ticker) clearInterval(this.ticker);
      throw err;
    } finally {
      this.processing = false;
    }
  }

  private applyReady(rd: Ready): void {
    if (rd.snapshot) {
      const state = this.members.restoreSnapshot(rd.snapshot.data);
      this.opts.stateMachine.restore(rd.snapshot.metadata!.index, state);
      this.lastSnapshotIndex = rd.snapshot.metadata!.index;
      this.lastSnapshotBytes = rd.snapshot.data.byteLength;
      this.bytesSinceSnapshot = 0;
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    const isLeader = this.isLeader;
    if (isLeader !== this.wasLeader) {
      this.wasLeader = isLeader;
      if (!isLeader) {
        this.failPending(new RaftError(RaftErrorCode.PROPOSAL_DROPPED,
          "leadership was lost before the write committed; it may or may not be applied", this.leader));
      }
      for (const l of this.leadershipListeners) l(isLeader);
    }
  }

  private applyEntry(e: Entry): void {
    this.bytesSinceSnapshot += e.data.byteLength;
    if (e.type === EntryType.ENTRY_CONF_CHANGE) {
      const cc = ConfChangeCodec.decode(e.data);
      this.node.applyConfChange(cc);
      this.members.apply(cc);
      const waiting = this.pendingConf;
      if (waiting && waiting.type === cc.type && waiting.raftId === cc.nodeId) {
        this.pendingConf = undefined;
        waiting.resolve();
      }
      return;
    }
    if (e.data.byteLength < PROPOSAL_ID_BYTES) return; // a leader's no-op
    const result = this.opts.stateMachine.apply(e.index, e.data.subarray(PROPOSAL_ID_BYTES));
    // Made here (by this node, since it started) when the id carries this node's prefix.
    const id = new DataView(e.data.buffer, e.data.byteOffset, PROPOSAL_ID_BYTES);
    if (id.getUint32(0) !== this.proposalPrefix) return;
    const waiting = this.takePending(id.getUint32(4));
    if (waiting) this.answers.give(waiting.resolve, result);
  }

  /** Removes a waiting proposal so that it is settled exactly once. */
  private takePending(key: number): PendingProposal<R> | undefined {
    return this.pending.take(key);
  }

  /**
   * Takes a snapshot of the state once `snapshotInterval` entries were applied since the last
   * and the log written since then is at least {@link SNAPSHOT_LOG_FACTOR} times as large as that
   * snapshot, both thresholds stretched by a random tenth so that the managers do not all
   * snapshot at the same index. Encoding the whole state costs in proportion to its size, so a
   * large store is snapshotted less often, and snapshots cost at most about half an encoding of
   * what the log carried (the Raft thesis, §5.1.1). The state is captured now, encoded a slice at
   * a time and written to disk in the background while the loop goes on.
   */
  private maybeSnapshot(): void {
    const applied = this.node.raft.raftLog.applied;
    const stretch = 1 + this.snapshotJitter;
    if (this.snapshotInFlight || applied - this.lastSnapshotIndex < this.opts.snapshotInterval * stretch) return;
    if (this.bytesSinceSnapshot < this.lastSnapshotBytes * SNAPSHOT_LOG_FACTOR * stretch) return;
    // Everything the snapshot describes is captured now, at `applied`.
    const term = this.node.raft.raftLog.term(applied) ?? 0;
    const confState = this.node.raft.prs.confState();
    const machine = this.opts.stateMachine;
    const snapshot = machine.snapshotInSlices
      ? machine.snapshotInSlices(this.members.snapshotPrefix())
      : Promise.resolve(this.members.wrapSnapshot(machine.snapshot()));
    const compactTo = Math.max(this.opts.storage.firstIndex() - 1, applied - this.opts.keepEntriesAfterSnapshot);
    this.lastSnapshotIndex = applied;
    this.bytesSinceSnapshot = 0;
    this.snapshotJitter = this.random() / 10;
    this.snapshotInFlight = true;
    snapshot
      .then((data) => {
        if (this.stopped) return;
        this.lastSnapshotBytes = data.byteLength;
        return this.opts.storage.snapshotAndCompact({ data, metadata: { index: applied, term, confState } }, compactTo);
      })
      .catch(() => {
        // Not fatal: the log stays longer, and the next snapshot tries again.
        this.lastSnapshotIndex = this.opts.storage.snapshot().metadata!.index;
      })
      .finally(() => {
        this.snapshotInFlight = false;
      });
  }

  private failPending(err: Error): void {
    for (const [key] of this.pending.entries()) this.takePending(key)?.reject(err);
    const conf = this.pendingConf;
    this.pendingConf = undefined;
    conf?.reject(err);
  }
}

