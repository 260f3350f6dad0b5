/**
 * How a Raft node is set up: its id, its storage, its timing in ticks, its flow-control limits
 * and its injected randomness. Defaults follow DESIGN.md ("Timing defaults").
 */
import { RaftError, RaftErrorCode } from "./errors.ts";
import type { Storage } from "./storage.ts";

/** Settings of one Raft node. */
export interface Config {
  /** This node's id; never 0, never reused in a cluster. */
  id: number;
  /** Durable state to start from (may be empty). */
  storage: Storage;
  /** Ticks without hearing from a leader before an election; randomized to [n, 2n). */
  electionTick?: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick?: number;
  /**
   * The last index the application applied before a restart; replay starts after it. The
   * storage's membership must then be the one as of that index, since changes up to it are
   * not replayed.
   */
  applied?: number;
  /** Bytes of entries in one append message, at most (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** Bytes of committed entries handed out in one Ready, at most. */
  maxCommittedSizePerReady?: number;
  /** Append messages in flight to one follower, at most. */
  maxInflightMsgs?: number;
  /** Bytes of entries in flight to one follower, at most (0: no byte limit). */
  maxInflightBytes?: number;
  /** A leader that has not heard from a majority for an election timeout steps down. */
  checkQuorum?: boolean;
  /** Ask for votes without raising the term first, so a partitioned node does not disrupt. */
  preVote?: boolean;
  /** Refuse proposals on followers (with a leader hint) instead of forwarding them. */
  disableProposalForwarding?: boolean;
  /** Source of randomness in [0, 1): inject a seeded one for reproducible runs. */
  random: () => number;
}

/** Defaults, each with its reason. */
export const RAFT_DEFAULTS = {
  /** 10 ticks of 100 ms: a dead leader is replaced within about 2 s (DESIGN.md). */
  electionTick: 10,
  /** A heartbeat every tick keeps followers' election timers well clear of firing. */
  heartbeatTick: 1,
  /** 1 MiB keeps one append well under gRPC's 4 MB message limit. */
  maxSizePerMsg: 1024 * 1024,
  /** Bounds the work of one apply step, so one Ready never stalls the node for long. */
  maxCommittedSizePerReady: 64 * 1024 * 1024,
  /** Enough to keep a fast link full with pipelined appends. */
  maxInflightMsgs: 256,
  /** Bounds the memory a slow follower can pin on the leader. */
  maxInflightBytes: 32 * 1024 * 1024,
} as const;

/** A Config with every optional field resolved. */
export type ResolvedConfig = Required<Config>;

/** Fills in defaults and checks the values; throws INVALID_CONFIG with what was wrong. */
export function resolveConfig(c: Config): ResolvedConfig {
  const r: ResolvedConfig = {
    id: c.id,
    storage: c.storage,
    electionTick: c.electionTick ?? RAFT_DEFAULTS.electionTick,
    heartbeatTick: c.heartbeatTick ?? RAFT_DEFAULTS.heartbeatTick,
    applied: c.applied ?? 0,
    maxSizePerMsg: c.maxSizePerMsg ?? RAFT_DEFAULTS.maxSizePerMsg,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? RAFT_DEFAULTS.maxCommittedSizePerReady,
    maxInflightMsgs: c.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs,
    maxInflightBytes: c.maxInflightBytes ?? RAFT_DEFAULTS.maxInflightBytes,
    checkQuorum: c.checkQuorum ?? true,
    preVote: c.preVote ?? true,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    random: c.random,
  };
  const bad = (what: string): never => {
    throw new RaftError(RaftErrorCode.INVALID_CONFIG, `invalid raft config: ${what}`);
  };
  if (!Number.isSafeInteger(r.id) || r.id <= 0) bad(`id must be a positive integer, got ${c.id}`);
  if (!Number.isSafeInteger(r.heartbeatTick) || r.heartbeatTick <= 0) bad(`heartbeatTick must be a positive integer, got ${r.heartbeatTick}`);
  if (!Number.isSafeInteger(r.electionTick) || r.electionTick <= r.heartbeatTick) {
    bad(`electionTick (${r.electionTick}) must be an integer greater than heartbeatTick (${r.heartbeatTick})`);
  }
  if (r.maxInflightMsgs <= 0) bad(`maxInflightMsgs must be positive, got ${r.maxInflightMsgs}`);
  if (r.maxSizePerMsg <= 0) bad(`maxSizePerMsg must be positive, got ${r.maxSizePerMsg}`);
  if (typeof r.random !== "function") bad("random must be a function returning numbers in [0, 1)");
  return r;
}
