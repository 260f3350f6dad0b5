/**
 * The Raft consensus core: a synchronous state machine with no timers or IO (see raw-node.ts for
 * how an application drives it), its storage interface, and the in-memory storage.
 */
export { RawNode, SnapshotStatus } from "./raw-node.ts";
export type { Ready, SoftState, Status, PeerStatus } from "./raw-node.ts";
export { Raft, StateType, NONE, message, validateConfChange } from "./raft.ts";
export type { Config, ResolvedConfig } from "./config.ts";
export { RAFT_DEFAULTS, resolveConfig } from "./config.ts";
export { MemoryStorage, emptySnapshot, entrySize } from "./storage.ts";
export type { Storage, InitialState } from "./storage.ts";
export type { ReadState } from "./read-only.ts";
export { RaftError, RaftErrorCode } from "./errors.ts";
export { ProgressState } from "./progress.ts";
export { seededRandom } from "./random.ts";
