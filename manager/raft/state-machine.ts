/**
 * The contract between a manager's Raft node (which orders and replicates entries) and the
 * state it replicates (the store). The node calls `apply` for every committed entry, in log
 * order, on every manager; the store calls `propose` to get its transactions into the log.
 */

/** The replicated state, as the Raft node drives it. */
export interface StateMachine<R> {
  /**
   * Applies the committed entry at `index`. Must be deterministic: every manager applies the
   * same entries in the same order and must reach the same state and the same result.
   */
  apply(index: number, data: Uint8Array): R;
  /** The whole state as of the last applied entry, for a Raft snapshot. */
  snapshot(): Uint8Array;
  /**
   * Optional: the same bytes as `snapshot()` for the state as of this call, encoded over later
   * turns of the event loop while entries go on being applied, so that a large state does not
   * stall the node. The Raft node uses it when present, with a `prefix`: then the result is
   * `prefix(length of the state's bytes)` followed by them, in one buffer (the Raft node's
   * framing, which would otherwise cost a copy of the whole state).
   */
  snapshotInSlices?(prefix?: (stateLength: number) => Uint8Array): Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot taken at `index` (from `snapshot()` on some manager). */
  restore(index: number, data: Uint8Array): void;
}

/** How the replicated state gets entries into the log. */
export interface Proposer<R> {
  /**
   * Replicates `data`. Resolves with what `apply` returned for it once it is committed and
   * applied on this manager. Rejects with an error saying why when it cannot be committed:
   * this manager is not the leader (the error names the leader), quorum is lost (the error
   * names how many managers are reachable), or leadership was lost before the entry committed
   * (then it may or may not commit later).
   */
  propose(data: Uint8Array, signal?: AbortSignal): Promise<R>;
}
