/**
 * `shoald --force-new-cluster`: turns one surviving manager's data into a new single-manager
 * cluster that keeps the state: the snapshot plus every entry of the log after it, replayed.
 * Entries past the commit index on disk are kept too: that index is written lazily (see
 * LevelStorage.save), so writes acknowledged just before the crash may lie past it; an entry
 * that was never committed is a write whose caller was told it may or may not be applied. Every
 * other member is removed, so the others must join again. The result is a snapshot at the last
 * index whose only voter is this manager.
 */
import { ConfChangeCodec, EntryType } from "../../proto/gen/raft.ts";
import { LevelStorage } from "./level-storage.ts";
import { Members } from "./members.ts";
import { PROPOSAL_ID_BYTES } from "./raft-node.ts";
import type { StateMachine } from "./state-machine.ts";

/** Rewrites the Raft data in `raftDir` so that `raftId` is the only member; `stateMachine` is scratch. */
export async function forceNewCluster(raftDir: string, raftId: number, stateMachine: StateMachine<unknown>): Promise<void> {
  const storage = await LevelStorage.open(raftDir);
  try {
    const snap = storage.snapshot();
    const members = new Members();
    if (snap.data.byteLength > 0) stateMachine.restore(snap.metadata!.index, members.restoreSnapshot(snap.data));
    const { hardState } = storage.initialState();
    const last = storage.lastIndex();
    const first = snap.metadata!.index + 1;
    for (const e of last >= first ? storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : []) {
      if (e.type === EntryType.ENTRY_CONF_CHANGE) members.apply(ConfChangeCodec.decode(e.data));
      else if (e.data.byteLength >= PROPOSAL_ID_BYTES) stateMachine.apply(e.index, e.data.subarray(PROPOSAL_ID_BYTES));
    }
    if (!members.get(raftId)) throw new Error(`raft id ${raftId} is not a member in this data directory's log; it cannot form a new cluster`);
    members.keepOnly(raftId);
    await storage.resetTo(
      {
        data: members.wrapSnapshot(stateMachine.snapshot()),
        metadata: { index: last, term: storage.term(last) ?? snap.metadata!.term, confState: { voters: [raftId], learners: [] } },
      },
      { term: hardState.term, vote: 0, commit: last },
    );
  } finally {
    await storage.close();
  }
}
