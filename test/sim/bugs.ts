/**
 * Bugs the simulator can plant, to show that its checks catch them. Each is a small subclass of
 * the real state machine overriding one rule, or (stale-read) a change in how the simulated
 * server serves reads.
 */
import type { HardState } from "../../proto/gen/raft.ts";
import { Raft } from "../../manager/raft/raft.ts";
import type { Config } from "../../manager/raft/config.ts";

/** The plantable bugs, with what each breaks. */
export const BUGS = {
  /** Grant votes without the up-to-date log check (§5.4.1): a stale node can win and overwrite. */
  "vote-without-log-check": "grants votes without checking that the candidate's log is up to date",
  /** Count replicas of entries of earlier terms to commit them (the Figure 8 mistake). */
  "commit-earlier-term": "commits entries of earlier terms by counting replicas",
  /** Leave the vote out of the persisted hard state: after a restart a node can vote twice. */
  "forget-vote": "does not persist the vote",
  /** Serve reads from the local state machine without ReadIndex: reads can be stale. */
  "stale-read": "serves reads from local state without confirming leadership",
} as const;
/** Name of a plantable bug. */
export type BugName = keyof typeof BUGS;

/** Whether `name` is a plantable bug. */
export function isBugName(name: string): name is BugName {
  return Object.hasOwn(BUGS, name);
}

class VoteWithoutLogCheck extends Raft {
  protected override candidateLogIsUpToDate(): boolean {
    return true;
  }
}

class CommitEarlierTerm extends Raft {
  protected override maybeCommit(): boolean {
    const mci = this.prs.committed();
    if (mci > this.raftLog.committed && mci <= this.raftLog.lastIndex()) {
      this.raftLog.commitTo(mci);
      return true;
    }
    return false;
  }
}

class ForgetVote extends Raft {
  override hardState(): HardState {
    return { ...super.hardState(), vote: 0 };
  }
}

/** Makes the state machine for a node, with `bug` planted in it if it is a core bug. */
export function makeRaft(config: Config, bug: BugName | undefined): Raft {
  switch (bug) {
    case "vote-without-log-check":
      return new VoteWithoutLogCheck(config);
    case "commit-earlier-term":
      return new CommitEarlierTerm(config);
    case "forget-vote":
      return new ForgetVote(config);
    default:
      return new Raft(config);
  }
}
