/**
 * What a leader knows of one follower's log, and how it sends to it:
 * - probe: one append at a time until the follower's position is found;
 * - replicate: appends are pipelined, optimistically, within the in-flight window;
 * - snapshot: the follower needs a snapshot; nothing else is sent until it has it.
 */
import { Inflights } from "./inflights.ts";

/** The replication states of a follower, as seen by the leader. */
export const ProgressState = {
  PROBE: "probe",
  REPLICATE: "replicate",
  SNAPSHOT: "snapshot",
} as const;
/** One of {@link ProgressState}. */
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** The leader's view of one member. */
export class Progress {
  /** Highest index known to match the leader's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  /** How appends are sent now. */
  state: ProgressState = ProgressState.PROBE;
  /** In the snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Whether the member was heard from since the last quorum check. */
  recentActive = false;
  /** In the probe state: an append was sent and its answer is awaited. */
  probeSent = false;
  /** Appends sent and not yet acknowledged. */
  readonly inflights: Inflights;
  /** Whether the member is a learner (receives the log, does not vote). */
  isLearner: boolean;

  /** A member whose next index to send is `next`. */
  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Goes back to probing from just after what is known to match. */
  becomeProbe(): void {
    if (this.state === ProgressState.SNAPSHOT) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.PROBE);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.PROBE);
      this.next = this.match + 1;
    }
  }

  /** Starts pipelining appends. */
  becomeReplicate(): void {
    this.resetState(ProgressState.REPLICATE);
    this.next = this.match + 1;
  }

  /** Waits for the member to install the snapshot at `snapshotIndex`. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.SNAPSHOT);
    this.pendingSnapshot = snapshotIndex;
  }

  /** The member acknowledged up to `n`. Returns whether that was news. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** In the replicate state, entries up to `n` were just sent. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The member rejected an append at `rejected`; `matchHint` is where to probe next. Returns
   * false when the rejection is stale (an answer to an older append) and must be ignored.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.REPLICATE) {
      // Stale unless it rejects exactly the entry after what we believe matches.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe: stale unless it answers the append we sent last.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether nothing may be sent to the member now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.PROBE:
        return this.probeSent;
      case ProgressState.REPLICATE:
        return this.inflights.full();
      case ProgressState.SNAPSHOT:
        return true;
    }
  }
}
