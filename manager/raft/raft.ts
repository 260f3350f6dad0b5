/**
 * The Raft consensus state machine (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm", and Ongaro's thesis), in the shape of etcd-io/raft: synchronous, no
 * timers, no IO, no promises. It is driven by `tick()` and `step(message)`; what it wants done
 * (persist, send, apply) accumulates in its fields and is handed out by `RawNode.ready()`.
 *
 * Beyond the paper it implements PreVote and CheckQuorum (thesis §9.6), ReadIndex (§6.4),
 * leadership transfer (§3.10), learners (§4.2.1) and single-server membership changes (§4.1).
 *
 * Membership changes: one at a time, taking effect when the change entry is applied. Chosen over
 * joint consensus because every change shoal makes is a single server (join, promote, demote,
 * remove) and the one-at-a-time rule keeps each step safe with one quorum. The single-server
 * bug of §4.1 (a change proposed by a new leader before it commits anything in its term) is
 * avoided by refusing a change until the leader's own no-op entry of its term is applied.
 */
import type { ConfChange, ConfState, Entry, HardState, Message, Snapshot } from "../../proto/gen/raft.ts";
import { ConfChangeCodec, ConfChangeType, EntryType, MessageType } from "../../proto/gen/raft.ts";
import { resolveConfig } from "./config.ts";
import type { Config, ResolvedConfig } from "./config.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { ProgressState } from "./progress.ts";
import type { Progress } from "./progress.ts";
import { ReadOnly } from "./read-only.ts";
import type { ReadState } from "./read-only.ts";
import { entrySize } from "./storage.ts";
import { ProgressTracker, VoteResult } from "./tracker.ts";

/** No node: a vote not cast, a leader not known. */
export const NONE = 0;

/** The roles a node can be in. */
export const StateType = {
  FOLLOWER: "follower",
  CANDIDATE: "candidate",
  LEADER: "leader",
  PRE_CANDIDATE: "pre-candidate",
} as const;
/** One of {@link StateType}. */
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Context of a vote request sent on a leadership transfer: it overrides the leader lease. */
const TRANSFER_CONTEXT = new TextEncoder().encode("transfer");
const EMPTY = new Uint8Array(0);

/** The kinds of election: pre-vote first, real vote, or forced by a leadership transfer. */
const CampaignType = { PRE_ELECTION: 0, ELECTION: 1, TRANSFER: 2 } as const;
type CampaignType = (typeof CampaignType)[keyof typeof CampaignType];

/** Makes a message with every field set; `fields` overrides the zero values. */
export function message(fields: Partial<Message> & Pick<Message, "type">): Message {
  return {
    type: fields.type,
    to: fields.to ?? 0,
    from: fields.from ?? 0,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.MSG_VOTE ? MessageType.MSG_VOTE_RESP : MessageType.MSG_PRE_VOTE_RESP;
}

/** The consensus state machine of one node. */
export class Raft {
  /** This node's id. */
  readonly id: number;
  /** Current term. */
  term = 0;
  /** Whom this node voted for in the current term (NONE if no one). */
  vote = NONE;
  /** The log. */
  readonly raftLog: RaftLog;
  /** Membership and per-member progress. */
  prs: ProgressTracker;
  /** Current role. */
  state: StateType = StateType.FOLLOWER;
  /** Whether this node is a learner in its own view of the membership. */
  isLearner = false;
  /** The leader this node follows (NONE if unknown). */
  lead = NONE;
  /** Target of a leadership transfer in progress (NONE if none). */
  leadTransferee = NONE;
  /**
   * Index of the last configuration change proposed by this leader. A new change is refused
   * until the applied index reaches it.
   */
  pendingConfIndex = 0;
  /** Messages to send once the state they depend on is persisted. */
  msgs: Message[] = [];
  /** Reads that may now be served, for the application. */
  readStates: ReadState[] = [];

  private readonly cfg: ResolvedConfig;
  private readonly readOnly = new ReadOnly();
  /** Read requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;

  /** Creates a node from its config, restoring whatever its storage holds. */
  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.raftLog = new RaftLog(this.cfg.storage);
    this.prs = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (this.cfg.applied > 0) this.raftLog.appliedTo(Math.min(this.cfg.applied, this.raftLog.committed));
    this.becomeFollower(this.term, NONE);
  }

  /** The config this node runs with, defaults filled in. */
  get config(): ResolvedConfig {
    return this.cfg;
  }

  /** The state that must be persisted. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new Error(`raft ${this.id}: persisted commit ${hs.commit} is outside [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- roles -------------------------------------------------------------------------------

  /** Whether this node may become leader: it is a voter in its own view of the membership. */
  promotable(): boolean {
    return this.prs.isVoter(this.id) && !this.raftLog.unstable.snapshot;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.prs.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      pr.becomeProbe();
      // Our own match is what is on our disk: entries not yet persisted do not count.
      pr.match = id === this.id ? this.raftLog.stableLastIndex() : 0;
      pr.next = last + 1;
      pr.recentActive = id === this.id;
    }
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const et = this.cfg.electionTick;
    this.randomizedElectionTimeout = et + Math.floor(this.cfg.random() * et);
  }

  /** Becomes a follower of `lead` (NONE if unknown) in `term`. */
  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.FOLLOWER;
  }

  private becomeCandidate(): void {
    if (this.state === StateType.LEADER) throw new Error("raft: invalid transition leader -> candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.CANDIDATE;
  }

  private becomePreCandidate(): void {
    if (this.state === StateType.LEADER) throw new Error("raft: invalid transition leader -> pre-candidate");
    // A pre-candidate changes neither its term nor its vote: it only asks whether it could win.
    this.prs.resetVotes();
    this.lead = NONE;
    this.state = StateType.PRE_CANDIDATE;
  }

  private becomeLeader(): void {
    if (this.state === StateType.FOLLOWER) throw new Error("raft: invalid transition follower -> leader");
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.LEADER;
    const self = this.prs.progress.get(this.id);
    if (self) self.becomeReplicate();
    // A no-op entry of the new term: committing it commits everything before it (§5.4.2), and
    // lets reads be served (§6.4). No membership change until it is applied (see file comment).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: EMPTY }]);
    this.pendingConfIndex = this.raftLog.lastIndex();
  }

  // ---- ticks -------------------------------------------------------------------------------

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.state === StateType.LEADER) this.tickHeartbeat();
    else this.tickElection();
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.MSG_HUP, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(message({ type: MessageType.MSG_CHECK_QUORUM, from: this.id }));
      // A transfer that did not finish within an election timeout is given up.
      if (this.state === StateType.LEADER && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.state !== StateType.LEADER) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.MSG_BEAT, from: this.id }));
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    // Vote requests carry the term they campaign for; local proposals and forwarded reads carry
    // none; everything else carries ours.
    if (m.type !== MessageType.MSG_VOTE && m.type !== MessageType.MSG_VOTE_RESP &&
        m.type !== MessageType.MSG_PRE_VOTE && m.type !== MessageType.MSG_PRE_VOTE_RESP &&
        m.type !== MessageType.MSG_PROP && m.type !== MessageType.MSG_READ_INDEX) {
      m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends an append (or a snapshot) to `to` if its window allows; returns whether it sent. */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined && pr.next >= this.raftLog.firstIndex()) {
      ents = this.raftLog.entries(pr.next, this.cfg.maxSizePerMsg);
      if (ents.length === 0 && !sendIfEmpty) return false;
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    const m = message({
      type: MessageType.MSG_APP, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed,
    });
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!.index;
      if (pr.state === ProgressState.REPLICATE) {
        pr.optimisticUpdate(last);
        pr.inflights.add(last, bytes);
      } else if (pr.state === ProgressState.PROBE) {
        pr.probeSent = true;
      }
    }
    this.send(m);
    return true;
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    // A member we have not heard from lately may be down: do not ship it a snapshot for nothing.
    if (!pr.recentActive) return false;
    const snapshot: Snapshot = this.raftLog.snapshot();
    const meta = snapshot.metadata!;
    if (meta.index === 0) return false;
    pr.becomeSnapshot(meta.index);
    this.send(message({ type: MessageType.MSG_SNAP, to, snapshot }));
    return true;
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private sendHeartbeat(to: number, ctx: Uint8Array): void {
    // Never let a heartbeat commit past what the follower is known to hold: it may lack entries.
    const pr = this.prs.progress.get(to)!;
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(message({ type: MessageType.MSG_HEARTBEAT, to, commit, context: ctx }));
  }

  private forEachPeer(fn: (id: number) => void): void {
    for (const id of this.prs.progress.keys()) if (id !== this.id) fn(id);
  }

  /** Sends appends to every member that is behind. */
  private bcastAppend(): void {
    this.forEachPeer((id) => this.sendAppend(id));
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingRequestCtx() ?? EMPTY;
    this.forEachPeer((id) => this.sendHeartbeat(id, ctx));
  }

  // ---- the log -----------------------------------------------------------------------------

  /** Appends entries at the end of the leader's log, stamping term and index. */
  private appendEntries(es: Entry[]): void {
    let li = this.raftLog.lastIndex();
    for (const e of es) {
      e.term = this.term;
      e.index = ++li;
    }
    this.raftLog.append(es);
    // The leader's own copy counts towards the majority only once it is persisted (see
    // `onPersisted`), so the application may send appends to followers while it writes them.
  }

  /**
   * The application persisted the log up to `stableLast` (RawNode.advance calls this). On the
   * leader, its own copy now counts towards the majority, and the commit index may move.
   */
  onPersisted(stableLast: number): void {
    if (this.state !== StateType.LEADER) return;
    const self = this.prs.progress.get(this.id);
    if (!self || !self.maybeUpdate(stableLast)) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /**
   * Advances the commit index to what a majority of voters has matched, under the commit rule
   * (only entries of the current term commit by counting replicas). Returns whether it moved.
   */
  protected maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  /** Whether a candidate whose last entry is (lastIndex, lastTerm) may get our vote (§5.4.1). */
  protected candidateLogIsUpToDate(lastIndex: number, lastTerm: number): boolean {
    return this.raftLog.isUpToDate(lastIndex, lastTerm);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  // ---- elections ---------------------------------------------------------------------------

  private hup(t: CampaignType): void {
    if (this.state === StateType.LEADER) return;
    if (!this.promotable()) return;
    // A node must not campaign while a committed membership change is not yet applied: it might
    // count votes under a membership that is no longer current.
    if (this.hasUnappliedConfChange()) return;
    this.campaign(t);
  }

  private hasUnappliedConfChange(): boolean {
    const log = this.raftLog;
    if (log.committed <= log.applied) return false;
    const lo = Math.max(log.applied + 1, log.firstIndex());
    for (const e of log.slice(lo, log.committed + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type === EntryType.ENTRY_CONF_CHANGE) return true;
    }
    return false;
  }

  private campaign(t: CampaignType): void {
    let voteMsg: MessageType;
    let term: number;
    if (t === CampaignType.PRE_ELECTION) {
      this.becomePreCandidate();
      voteMsg = MessageType.MSG_PRE_VOTE;
      // Pre-votes ask for the term we would campaign in, without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MSG_VOTE;
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.WON) {
      // A single voter wins at once.
      if (t === CampaignType.PRE_ELECTION) this.campaign(CampaignType.ELECTION);
      else this.becomeLeader();
      return;
    }
    for (const id of this.prs.voters) {
      if (id === this.id) continue;
      this.send(message({
        type: voteMsg, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(),
        context: t === CampaignType.TRANSFER ? TRANSFER_CONTEXT : EMPTY,
      }));
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // ---- stepping ----------------------------------------------------------------------------

  /** Feeds a message (from a peer, or local such as MSG_HUP or MSG_PROP) into the machine. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.MSG_VOTE || m.type === MessageType.MSG_PRE_VOTE) {
        const force = sameBytes(m.context, TRANSFER_CONTEXT);
        const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        // While we hear from a leader, ignore vote requests: a node that was cut off must not
        // depose a working leader when it comes back (thesis §4.2.3).
        if (!force && inLease) return;
      }
      if (m.type === MessageType.MSG_PRE_VOTE) {
        // Never change our term in answer to a pre-vote.
      } else if (m.type === MessageType.MSG_PRE_VOTE_RESP && !m.reject) {
        // A granted pre-vote carries the term we would campaign in; the term moves if we win.
      } else if (m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_SNAP) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) &&
          (m.type === MessageType.MSG_HEARTBEAT || m.type === MessageType.MSG_APP)) {
        // A stale leader (cut off, then back) learns our term from this and steps down; without
        // it, with pre-vote, we could never win an election against its silent veto.
        this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from }));
      } else if (m.type === MessageType.MSG_PRE_VOTE) {
        this.send(message({ type: MessageType.MSG_PRE_VOTE_RESP, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.MSG_HUP:
        this.hup(this.cfg.preVote ? CampaignType.PRE_ELECTION : CampaignType.ELECTION);
        return;
      case MessageType.MSG_VOTE:
      case MessageType.MSG_PRE_VOTE:
        this.handleVoteRequest(m);
        return;
    }
    switch (this.state) {
      case StateType.LEADER:
        this.stepLeader(m);
        return;
      case StateType.CANDIDATE:
      case StateType.PRE_CANDIDATE:
        this.stepCandidate(m);
        return;
      case StateType.FOLLOWER:
        this.stepFollower(m);
        return;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      // A pre-vote for a future term may be granted even though we voted in this one.
      (m.type === MessageType.MSG_PRE_VOTE && m.term > this.term);
    if (canVote && this.candidateLogIsUpToDate(m.index, m.logTerm)) {
      // The answer carries the requested term, so the candidate does not drop it as stale.
      this.send(message({ type: voteRespType(m.type), to: m.from, term: m.term }));
      if (m.type === MessageType.MSG_VOTE) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true }));
    }
  }

  /**
   * Refuses a proposal or read request. The local caller gets an error with a leader hint; one
   * forwarded by a peer is dropped silently (the peer's client times out and retries).
   */
  private drop(m: Message, why: string): void {
    if (m.from === this.id || m.from === NONE) throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED, why, this.lead);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MSG_BEAT:
        this.bcastHeartbeat();
        return;
      case MessageType.MSG_CHECK_QUORUM:
        if (!this.prs.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
        }
        // Everyone must prove itself active again before the next check.
        this.forEachPeer((id) => (this.prs.progress.get(id)!.recentActive = false));
        return;
      case MessageType.MSG_PROP:
        this.leaderPropose(m);
        return;
      case MessageType.MSG_READ_INDEX:
        if (this.prs.voters.size === 1) {
          this.respondToReadIndex(m, this.raftLog.committed);
        } else if (!this.committedEntryInCurrentTerm()) {
          // Our commit index may lag the real one until an entry of our term commits.
          this.pendingReadIndexMessages.push(m);
        } else {
          this.startReadIndex(m);
        }
        return;
    }

    const pr = this.prs.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.MSG_APP_RESP:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.MSG_HEARTBEAT_RESP:
        this.handleHeartbeatResponse(m, pr);
        return;
      case MessageType.MSG_SNAP_STATUS:
        if (pr.state !== ProgressState.SNAPSHOT) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat answer before probing, so a failing peer is not flooded.
        pr.probeSent = true;
        return;
      case MessageType.MSG_UNREACHABLE:
        if (pr.state === ProgressState.REPLICATE) pr.becomeProbe();
        return;
      case MessageType.MSG_TRANSFER_LEADER:
        this.handleTransferLeader(m, pr);
        return;
    }
  }

  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new Error("raft: proposal without entries");
    if (!this.prs.progress.has(this.id)) return this.drop(m, `node ${this.id} was removed from the cluster`);
    if (this.leadTransferee !== NONE) return this.drop(m, `leadership is being transferred to ${this.leadTransferee}`);
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i]!;
      if (e.type !== EntryType.ENTRY_CONF_CHANGE) continue;
      const refusal = this.confChangeRefusal(e);
      if (refusal) {
        // A forwarded change cannot be answered with an error: it becomes a no-op in the log.
        if (m.from === this.id) throw new RaftError(RaftErrorCode.CONF_CHANGE_REFUSED, refusal, this.lead);
        m.entries[i] = { term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data: EMPTY };
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    this.appendEntries(m.entries);
    this.bcastAppend();
  }

  /** Why a configuration change entry may not be proposed now, or undefined if it may. */
  private confChangeRefusal(e: Entry): string | undefined {
    if (this.pendingConfIndex > this.raftLog.applied) {
      return `the previous membership change, or this leader's first entry of its term (entry ${this.pendingConfIndex}), is not applied yet (applied ${this.raftLog.applied}); retry shortly`;
    }
    const cc = ConfChangeCodec.decode(e.data);
    return validateConfChange(this.prs.confState(), cc);
  }

  private startReadIndex(m: Message): void {
    this.readOnly.addRequest(this.raftLog.committed, m);
    // The leader's own acknowledgement; then a heartbeat round asks the others.
    this.readOnly.recvAck(this.id, m.context);
    this.forEachPeer((id) => this.sendHeartbeat(id, m.context));
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context });
    } else {
      this.send(message({ type: MessageType.MSG_READ_INDEX_RESP, to: req.from, index, context: req.context }));
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.startReadIndex(m);
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking: the follower says where its log could match; skip whole terms.
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === ProgressState.REPLICATE) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.PROBE) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.SNAPSHOT && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The snapshot was installed (or the follower caught up another way): resume appends.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.REPLICATE) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Keep the pipeline full while the window allows.
    while (this.maybeSendAppend(m.from, false)) { /* send until paused or up to date */ }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.send(message({ type: MessageType.MSG_TIMEOUT_NOW, to: m.from }));
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // The follower is alive but the window is full: the appends in it may all have been lost.
    // Free one slot so an append goes out; if entries were lost, its rejection resets the window.
    if (pr.state === ProgressState.REPLICATE && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    let voterAcks = 0;
    for (const id of acks) if (this.prs.isVoter(id)) voterAcks++;
    if (voterAcks < this.prs.quorum()) return;
    for (const { req, index } of this.readOnly.advance(m.context)) this.respondToReadIndex(req, index);
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) return;
    const transferee = m.from;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout (tickHeartbeat gives up after it).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.send(message({ type: MessageType.MSG_TIMEOUT_NOW, to: transferee }));
    } else {
      this.sendAppend(transferee);
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PRE_CANDIDATE ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
    switch (m.type) {
      case MessageType.MSG_PROP:
        this.drop(m, `no leader at term ${this.term}: an election is in progress`);
        return;
      case MessageType.MSG_READ_INDEX:
        this.drop(m, `no leader at term ${this.term} to confirm a read: an election is in progress`);
        return;
      case MessageType.MSG_APP:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MSG_HEARTBEAT:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MSG_SNAP:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const result = this.poll(m.from, !m.reject);
        if (result === VoteResult.WON) {
          if (this.state === StateType.PRE_CANDIDATE) {
            this.campaign(CampaignType.ELECTION);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.LOST) {
          // A rejected pre-vote carries the voter's term, which may be ours; stay in our term.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MSG_PROP:
        if (this.lead === NONE) return this.drop(m, `no leader at term ${this.term}`);
        if (this.cfg.disableProposalForwarding) {
          return this.drop(m, `node ${this.id} is not the leader; the leader is ${this.lead}`);
        }
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_APP:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MSG_HEARTBEAT:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MSG_SNAP:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MSG_TRANSFER_LEADER:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_TIMEOUT_NOW:
        // The leader hands over: campaign now, skipping pre-vote (we are known to be up to date).
        this.hup(CampaignType.TRANSFER);
        return;
      case MessageType.MSG_READ_INDEX:
        if (this.lead === NONE) return this.drop(m, `no leader at term ${this.term} to confirm a read`);
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.MSG_READ_INDEX_RESP:
        this.readStates.push({ index: m.index, requestCtx: m.context });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: lastNew }));
      return;
    }
    // Rejection with a hint: the last index <= the probed one whose term is <= the leader's
    // term there, so the leader can skip a whole run of entries of a stale term at once.
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(message({
      type: MessageType.MSG_APP_RESP, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term,
    }));
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(message({ type: MessageType.MSG_HEARTBEAT_RESP, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.MSG_APP_RESP, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; returns false when it is stale. */
  private restore(s: Snapshot): boolean {
    const meta = s.metadata!;
    if (meta.index <= this.raftLog.committed) return false;
    const cs = meta.confState!;
    // The membership in the snapshot may predate our joining; we install it all the same (unlike
    // etcd-io/raft): the change that added us follows in the log and will be applied. Leaders
    // send only to members, so a removed node is never sent one.
    if (this.raftLog.matchTerm(meta.index, meta.term)) {
      // We already have that entry: fast-forward the commit index instead.
      this.raftLog.commitTo(meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    this.applyConfState(cs);
    return true;
  }

  // ---- membership --------------------------------------------------------------------------

  private applyConfState(cs: ConfState): void {
    const next = this.raftLog.lastIndex() + 1;
    for (const id of cs.voters) this.prs.setMember(id, false, next);
    for (const id of cs.learners) this.prs.setMember(id, true, next);
    this.isLearner = this.prs.learners.has(this.id);
  }

  /**
   * Applies a committed membership change (the application calls this when it applies the
   * entry). An invalid change is ignored, the same way on every node. Returns the membership.
   */
  applyConfChange(cc: ConfChange): ConfState {
    if (validateConfChange(this.prs.confState(), cc) === undefined) {
      const next = this.raftLog.lastIndex() + 1;
      switch (cc.type) {
        case ConfChangeType.CONF_CHANGE_ADD_NODE:
          this.prs.setMember(cc.nodeId, false, next);
          break;
        case ConfChangeType.CONF_CHANGE_ADD_LEARNER:
          this.prs.setMember(cc.nodeId, true, next);
          break;
        case ConfChangeType.CONF_CHANGE_REMOVE_NODE:
          this.prs.removeMember(cc.nodeId);
          break;
      }
      this.isLearner = this.prs.learners.has(this.id);
      this.afterConfChange();
    }
    return this.prs.confState();
  }

  private afterConfChange(): void {
    if (this.state !== StateType.LEADER) return;
    if (!this.prs.isVoter(this.id)) {
      // A leader removed (or demoted) steps down; the others elect a leader among themselves.
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.prs.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
    // The majority changed: the commit index may move, and new members need the log.
    if (this.maybeCommit()) this.releasePendingReadIndexMessages();
    this.bcastAppend();
  }
}

/** Why a membership change is invalid against `cs`, or undefined when it is valid. */
export function validateConfChange(cs: ConfState, cc: ConfChange): string | undefined {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) return `node id must be a positive integer, got ${cc.nodeId}`;
  const isVoter = cs.voters.includes(cc.nodeId);
  const isMember = isVoter || cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.CONF_CHANGE_ADD_NODE:
      return isVoter ? `node ${cc.nodeId} is already a voter` : undefined;
    case ConfChangeType.CONF_CHANGE_ADD_LEARNER:
      if (isVoter && cs.voters.length === 1) return `node ${cc.nodeId} is the last voter and cannot be demoted`;
      return cs.learners.includes(cc.nodeId) ? `node ${cc.nodeId} is already a learner` : undefined;
    case ConfChangeType.CONF_CHANGE_REMOVE_NODE:
      if (!isMember) return `node ${cc.nodeId} is not a member`;
      if (isVoter && cs.voters.length === 1) return `node ${cc.nodeId} is the last voter and cannot be removed`;
      return undefined;
    default:
      return `unknown membership change type ${cc.type as number}`;
  }
}
