/**
 * Membership as the core sees it (voters and learners), the leader's progress per member, votes
 * in an election, and the majority arithmetic over them.
 */
import type { ConfState } from "../../proto/gen/raft.ts";
import { Progress } from "./progress.ts";

/** Outcome of counting votes. */
export const VoteResult = { PENDING: "pending", WON: "won", LOST: "lost" } as const;
/** One of {@link VoteResult}. */
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** Voters, learners, their progress, and the votes of the current election. */
export class ProgressTracker {
  /** Members whose votes and acknowledgements count. */
  readonly voters = new Set<number>();
  /** Members that receive the log but neither vote nor count for commitment. */
  readonly learners = new Set<number>();
  /** The leader's view of each member (voters and learners). */
  readonly progress = new Map<number, Progress>();
  /** Votes received in the current election, by voter. */
  readonly votes = new Map<number, boolean>();
  private matchScratch = new Float64Array(8);

  /** An empty tracker whose progress windows hold `maxInflight` messages and `maxInflightBytes`. */
  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  /** Votes or acknowledgements needed for a majority of the voters. */
  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Whether `id` is a voter. */
  isVoter(id: number): boolean {
    return this.voters.has(id);
  }

  /** Adds (or changes) a member; a new member is expected to need entries from `next` on. */
  setMember(id: number, learner: boolean, next: number): void {
    if (learner) {
      this.voters.delete(id);
      this.learners.add(id);
    } else {
      this.learners.delete(id);
      this.voters.add(id);
    }
    const pr = this.progress.get(id);
    if (pr) {
      pr.isLearner = learner;
      return;
    }
    const fresh = new Progress(next, this.maxInflight, this.maxInflightBytes, learner);
    // A member just added is presumed reachable, so that it is sent a snapshot if it needs one.
    fresh.recentActive = true;
    this.progress.set(id, fresh);
  }

  /** Removes a member. */
  removeMember(id: number): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
  }

  /** The membership, ids sorted. */
  confState(): ConfState {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }

  /** The highest index that a majority of voters has matched. */
  committed(): number {
    const n = this.voters.size;
    if (n === 0) return 0;
    if (this.matchScratch.length < n) this.matchScratch = new Float64Array(n * 2);
    const matches = this.matchScratch.subarray(0, n);
    let i = 0;
    for (const id of this.voters) matches[i++] = this.progress.get(id)?.match ?? 0;
    matches.sort();
    // Ascending: the quorum-th largest is at n - quorum.
    return matches[n - this.quorum()]!;
  }

  /** Whether a majority of voters was heard from recently (the leader itself counts). */
  quorumActive(self: number): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  /** Records a voter's answer; the first answer of each voter counts. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts the votes of voters. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    let result: VoteResult = VoteResult.PENDING;
    if (granted >= q) result = VoteResult.WON;
    else if (this.voters.size - rejected < q) result = VoteResult.LOST;
    return { granted, rejected, result };
  }

  /** Forgets the votes of the last election. */
  resetVotes(): void {
    this.votes.clear();
  }
}
