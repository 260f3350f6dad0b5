/**
 * Errors the Raft core reports to its caller. One class with a stable `code`, so callers
 * branch on the code and people read the message.
 */

/** The stable codes of {@link RaftError}. */
export const RaftErrorCode = {
  /** A proposal could not be accepted here: no leader known, leadership in transfer, not a member. */
  PROPOSAL_DROPPED: "PROPOSAL_DROPPED",
  /** A configuration change while another one is still being applied, or one that is invalid. */
  CONF_CHANGE_REFUSED: "CONF_CHANGE_REFUSED",
  /** Log entries asked for were compacted into a snapshot. */
  COMPACTED: "COMPACTED",
  /** Log entries asked for are beyond the end of the log. */
  UNAVAILABLE: "UNAVAILABLE",
  /** A snapshot older than the one already held. */
  SNAPSHOT_OUT_OF_DATE: "SNAPSHOT_OUT_OF_DATE",
  /** A configuration value outside what is allowed. */
  INVALID_CONFIG: "INVALID_CONFIG",
} as const;
/** One of {@link RaftErrorCode}. */
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

/** An error from the Raft core. `leader` is the leader this node knows of (0 when none). */
export class RaftError extends Error {
  /** What went wrong, as a stable code. */
  readonly code: RaftErrorCode;
  /** The id of the leader as this node knows it, 0 when it knows none. A hint for redirects. */
  readonly leader: number;

  /** Makes an error with a code, a message for people, and a leader hint. */
  constructor(code: RaftErrorCode, message: string, leader = 0) {
    super(message);
    this.name = "RaftError";
    this.code = code;
    this.leader = leader;
  }
}
