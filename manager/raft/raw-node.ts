/**
 * The application's handle on the Raft core. The application calls `tick()` on a timer, feeds
 * peers' messages to `step()`, proposes through `propose()`, and loops:
 *
 *   while (node.hasReady()) {
 *     const rd = node.ready();
 *     persist rd.snapshot, rd.entries and rd.hardState (synced when rd.mustSync);
 *     send rd.messages;               // only after persisting: they may promise what was persisted
 *     apply rd.snapshot, then rd.committedEntries (calling applyConfChange for membership entries);
 *     serve rd.readStates once applied up to their index;
 *     node.advance(rd);
 *   }
 *
 * An application that applies a Ready's committed entries as soon as it gets the Ready may also
 * apply entries that commit while it persists, through `takeCommittedEntries()`.
 */
import type { ConfChange, ConfState, Entry, HardState, Message, Snapshot } from "../../proto/gen/raft.ts";
import { ConfChangeCodec, EntryType, MessageType } from "../../proto/gen/raft.ts";
import type { Config } from "./config.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import type { ProgressState } from "./progress.ts";
import { message, Raft, StateType } from "./raft.ts";
import type { ReadState } from "./read-only.ts";

/** State that changes often and need not be persisted: who leads, and our role. */
export interface SoftState {
  /** The leader this node knows of (0 when none). */
  lead: number;
  /** Our role. */
  raftState: StateType;
}

/**
 * Whether a message may be sent before the Ready it came in is persisted: a leader's appends,
 * heartbeats, snapshots and transfer orders promise nothing about its own disk (thesis §10.2.1),
 * since the leader counts its own entries only once persisted. Every other message (votes,
 * acknowledgements) must wait for the disk.
 */
export function canSendBeforePersist(m: Message): boolean {
  return m.type === MessageType.MSG_APP || m.type === MessageType.MSG_HEARTBEAT ||
    m.type === MessageType.MSG_SNAP || m.type === MessageType.MSG_TIMEOUT_NOW;
}

/** A batch of work for the application, in the order the file comment says. */
export interface Ready {
  /** Set when the soft state changed since the last Ready. */
  softState?: SoftState;
  /** Set when the hard state changed: persist it. */
  hardState?: HardState;
  /** Entries to persist (they may replace entries at the same indexes). */
  entries: Entry[];
  /** A snapshot from the leader to persist and apply. */
  snapshot?: Snapshot;
  /** Entries committed since the last Ready, to apply in order. */
  committedEntries: Entry[];
  /** Messages to send once entries, hard state and snapshot are persisted. */
  messages: Message[];
  /** Reads that may be served once the state machine has applied their index. */
  readStates: ReadState[];
  /** Whether the persisted state must be synced to disk before messages are sent. */
  mustSync: boolean;
}

/** A member's replication status as the leader sees it. */
export interface PeerStatus {
  /** Highest index known to match. */
  match: number;
  /** Next index to send. */
  next: number;
  /** How entries are sent to it. */
  state: ProgressState;
  /** Whether it is a learner. */
  learner: boolean;
  /** Whether it answered since the last quorum check. */
  recentActive: boolean;
}

/** What a node reports about itself. */
export interface Status {
  /** This node's id. */
  id: number;
  /** Current term, vote and commit index. */
  hardState: HardState;
  /** Leader and role. */
  softState: SoftState;
  /** Highest applied index. */
  applied: number;
  /** Index of the last entry in the log. */
  lastIndex: number;
  /** Current membership. */
  confState: ConfState;
  /** Target of a leadership transfer in progress (0 if none). */
  leadTransferee: number;
  /** Per-member progress; only on the leader. */
  progress?: Map<number, PeerStatus>;
}

/** Status of a snapshot a leader sent, as the transport saw it. */
export const SnapshotStatus = { FINISH: "finish", FAILURE: "failure" } as const;
/** One of {@link SnapshotStatus}. */
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A Raft node driven by its application, without threads, timers or IO. */
export class RawNode {
  /** The consensus state machine (exposed for tests and status). */
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The last committed index handed to the application, in a Ready or by `takeCommittedEntries`. */
  private handedOut = 0;

  /** Creates a node from its config; or wraps an existing state machine (tests plant bugs so). */
  constructor(config: Config | Raft) {
    this.raft = config instanceof Raft ? config : new Raft(config);
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, raftState: this.raft.state };
  }

  /** Advances logical time by one tick (the election and heartbeat clocks count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now, as if the election timeout had passed. */
  campaign(): void {
    this.raft.step(message({ type: MessageType.MSG_HUP, from: this.raft.id }));
  }

  /**
   * Proposes data to be appended to the log. On a follower it is forwarded to the leader (unless
   * forwarding is disabled). Throws PROPOSAL_DROPPED, with a leader hint, when it cannot be taken.
   * Acceptance is no promise of commitment: watch the committed entries.
   */
  propose(data: Uint8Array): void {
    this.proposeBatch([data]);
  }

  /** Proposes several entries in one message: they are appended and replicated together. */
  proposeBatch(datas: Uint8Array[]): void {
    if (datas.length === 0) return;
    const entries: Entry[] = datas.map((data) => ({ term: 0, index: 0, type: EntryType.ENTRY_NORMAL, data }));
    this.raft.step(message({ type: MessageType.MSG_PROP, from: this.raft.id, entries }));
  }

  /**
   * Proposes a membership change. Refused with CONF_CHANGE_REFUSED when it is invalid or another
   * change is still in progress; it takes effect when the application applies the entry and calls
   * `applyConfChange`.
   */
  proposeConfChange(cc: ConfChange): void {
    if (this.raft.state !== StateType.LEADER) {
      throw new RaftError(RaftErrorCode.PROPOSAL_DROPPED, `membership changes go through the leader; node ${this.raft.id} is not the leader`, this.raft.lead);
    }
    const data = ConfChangeCodec.encode(cc);
    this.raft.step(message({
      type: MessageType.MSG_PROP, from: this.raft.id,
      entries: [{ term: 0, index: 0, type: EntryType.ENTRY_CONF_CHANGE, data }],
    }));
  }

  /** Applies a committed membership change; returns the membership after it. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Feeds a message from a peer. Local message types are refused. */
  step(m: Message): void {
    if (m.type === MessageType.MSG_HUP || m.type === MessageType.MSG_BEAT || m.type === MessageType.MSG_CHECK_QUORUM) {
      throw new Error(`raft: message type ${m.type} is local and cannot come from a peer`);
    }
    // Answers from members we no longer know are ignored (a removed node can still send).
    if (isResponse(m.type) && !this.raft.prs.progress.has(m.from)) return;
    this.raft.step(m);
  }

  /**
   * Asks for a linearizable read. A ReadState with `ctx` appears in a later Ready; the read may
   * be served once the state machine has applied up to its index.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(message({ type: MessageType.MSG_READ_INDEX, from: this.raft.id, context: ctx }));
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeadership(transferee: number): void {
    this.raft.step(message({ type: MessageType.MSG_TRANSFER_LEADER, from: transferee, to: this.raft.lead }));
  }

  /** Tells the leader that the transport could not reach `id`. */
  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.MSG_UNREACHABLE, from: id }));
  }

  /** Tells the leader how sending a snapshot to `id` ended. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step(message({ type: MessageType.MSG_SNAP_STATUS, from: id, reject: status === SnapshotStatus.FAILURE }));
  }

  /** Whether there is anything for the application to do. */
  hasReady(): boolean {
    const r = this.raft;
    const soft = this.softState();
    if (soft.lead !== this.prevSoft.lead || soft.raftState !== this.prevSoft.raftState) return true;
    const hs = r.hardState();
    if (hs.term !== 0 && !hardStateEqual(hs, this.prevHard)) return true;
    if (r.raftLog.unstable.snapshot) return true;
    return r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 ||
      r.raftLog.hasNextCommittedEntries() || r.readStates.length > 0;
  }

  /** The work to do now. Call `advance` with it once done. */
  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.raftLog.unstableEntries().slice(),
      committedEntries: r.raftLog.nextCommittedEntries(r.config.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
      mustSync: false,
    };
    const soft = this.softState();
    if (soft.lead !== this.prevSoft.lead || soft.raftState !== this.prevSoft.raftState) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHard)) rd.hardState = hs;
    if (r.raftLog.unstable.snapshot) rd.snapshot = r.raftLog.unstable.snapshot;
    rd.mustSync = rd.entries.length > 0 || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote;
    r.msgs = [];
    r.readStates = [];
    if (rd.committedEntries.length > 0) this.handedOut = rd.committedEntries[rd.committedEntries.length - 1]!.index;
    return rd;
  }

  /** Confirms that a Ready was handled: persisted, sent and applied. */
  advance(rd: Ready): void {
    const log = this.raft.raftLog;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      const index = rd.snapshot.metadata!.index;
      log.stableSnapTo(index);
      if (index > log.applied) log.applied = index;
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      // Entries taken meanwhile (takeCommittedEntries) may have moved `applied` past the Ready's.
      if (last > log.applied) log.appliedTo(last);
    }
    this.raft.onPersisted(log.stableLastIndex());
  }

  /**
   * The entries committed since the last ones handed out, outside a Ready, marked applied: for
   * an application that applied the committed entries of the Ready it is persisting when it got
   * it (they are on a majority's disks), so that entries committing meanwhile need not wait for
   * the next Ready. On a leader, they are this node's entries that a majority acknowledged.
   * Never while a Ready with a snapshot is being installed: the entries would come before it.
   */
  takeCommittedEntries(): Entry[] {
    const log = this.raft.raftLog;
    const lo = Math.max(log.applied, this.handedOut) + 1;
    if (log.committed < lo) return [];
    const ents = log.slice(lo, log.committed + 1, this.raft.config.maxCommittedSizePerReady);
    if (ents.length === 0) return ents;
    this.handedOut = ents[ents.length - 1]!.index;
    log.appliedTo(this.handedOut);
    return ents;
  }

  /**
   * Takes the messages made so far that may go out before anything is persisted (see
   * `canSendBeforePersist`), leaving the others for the next Ready: a leader's appends need not
   * wait for its disk, neither the Ready's own nor one still being persisted. The entries they
   * carry are persisted with the next Ready.
   */
  takeMessagesSendableBeforePersist(): Message[] {
    const r = this.raft;
    const sendable = r.msgs.filter(canSendBeforePersist);
    if (sendable.length > 0) r.msgs = r.msgs.filter((m) => !canSendBeforePersist(m));
    return sendable;
  }

  /** This node's view of itself and, on the leader, of every member. */
  status(): Status {
    const r = this.raft;
    const s: Status = {
      id: r.id,
      hardState: r.hardState(),
      softState: this.softState(),
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      confState: r.prs.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.state === StateType.LEADER) {
      s.progress = new Map();
      for (const [id, pr] of r.prs.progress) {
        s.progress.set(id, { match: pr.match, next: pr.next, state: pr.state, learner: pr.isLearner, recentActive: pr.recentActive });
      }
    }
    return s;
  }

  /** The leader this node knows of (0 when none). */
  get leader(): number {
    return this.raft.lead;
  }
}

function isResponse(t: MessageType): boolean {
  return t === MessageType.MSG_APP_RESP || t === MessageType.MSG_HEARTBEAT_RESP || t === MessageType.MSG_SNAP_STATUS ||
    t === MessageType.MSG_UNREACHABLE;
}
