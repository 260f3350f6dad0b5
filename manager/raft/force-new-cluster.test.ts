import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EntryType } from "../../proto/gen/raft.ts";
import { forceNewCluster } from "./force-new-cluster.ts";
import { LevelStorage } from "./level-storage.ts";
import { Members } from "./members.ts";
import { PROPOSAL_ID_BYTES, RaftNode } from "./raft-node.ts";
import type { StateMachine } from "./state-machine.ts";

/** A state machine that keeps the writes applied, in order. */
class Writes implements StateMachine<void> {
  list: string[] = [];
  apply(_index: number, data: Uint8Array): void {
    this.list.push(new TextDecoder().decode(data));
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.list));
  }
  restore(_index: number, data: Uint8Array): void {
    this.list = data.byteLength > 0 ? (JSON.parse(new TextDecoder().decode(data)) as string[]) : [];
  }
}

/** A proposal's entry data: the proposal id, then `write`. */
function proposal(write: string): Uint8Array {
  const body = new TextEncoder().encode(write);
  const data = new Uint8Array(PROPOSAL_ID_BYTES + body.byteLength);
  data.set(body, PROPOSAL_ID_BYTES);
  return data;
}

test("--force-new-cluster keeps every entry on disk, also those past the commit index written so far", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-force-new-cluster-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const self = { raftId: 7, nodeId: "node-7", addr: "127.0.0.1:4242" };
  let storage = await LevelStorage.open(dir);
  await RaftNode.bootstrap(storage, self, new Writes());
  const entries = ["a", "b", "c", "d"].map((w, i) => ({ index: 2 + i, term: 1, type: EntryType.ENTRY_NORMAL, data: proposal(w) }));
  // The commit index on disk lags: writes "c" and "d" were acknowledged, their commit not yet written.
  await storage.save({ entries, hardState: { term: 1, vote: 7, commit: 3 } });
  await storage.close();

  await forceNewCluster(dir, self.raftId, new Writes());

  storage = await LevelStorage.open(dir);
  t.after(() => storage.close());
  assert.equal(storage.snapshot().metadata!.index, 5, "a snapshot at the last entry");
  assert.deepEqual(storage.snapshot().metadata!.confState, { voters: [7], learners: [] });
  assert.equal(storage.initialState().hardState.commit, 5);
  const recovered = new Writes();
  recovered.restore(5, new Members().restoreSnapshot(storage.snapshot().data));
  assert.deepEqual(recovered.list, ["a", "b", "c", "d"]);
});
