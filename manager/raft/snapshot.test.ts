import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { ProgressState } from "./progress.ts";
import { SnapshotStatus } from "./raw-node.ts";
import { TestCluster } from "./test-cluster.ts";
import type { RaftError} from "./errors.ts";
import { RaftErrorCode } from "./errors.ts";
import { MemoryStorage } from "./storage.ts";

function compactLeader(c: TestCluster, id: number): number {
  const tn = c.get(id);
  const applied = tn.node.raft.raftLog.applied;
  tn.storage.createSnapshot(applied, tn.node.raft.prs.confState(), new TextEncoder().encode(`state@${applied}`));
  tn.storage.compact(applied);
  return applied;
}

test("a follower that lags behind the leader's compacted log is sent a snapshot, then entries", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 20; i++) c.propose(1, `v${i}`);
  const snapIndex = compactLeader(c, 1);
  c.heal();
  c.delivered = [];
  c.tickAll(3);
  const snaps = c.delivered.filter((m) => m.type === MessageType.MSG_SNAP && m.to === 3);
  assert.equal(snaps.length, 1);
  assert.equal(snaps[0]!.snapshot!.metadata!.index, snapIndex);
  assert.equal(c.get(3).storage.snapshot().metadata!.index, snapIndex, "node 3 persisted the snapshot");
  c.get(1).node.reportSnapshot(3, SnapshotStatus.FINISH);
  c.propose(1, "after");
  assert.deepEqual(c.appliedText(3), ["after"], "entries after the snapshot arrive as entries");
  assert.equal(c.raft(3).raftLog.lastIndex(), c.raft(1).raftLog.lastIndex());
});

test("a snapshot that failed to send is retried after the follower answers again", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
  compactLeader(c, 1);
  c.heal();
  c.dropIf = (m) => m.type === MessageType.MSG_SNAP;
  c.tickAll(2);
  const pr = c.raft(1).prs.progress.get(3)!;
  assert.equal(pr.state, ProgressState.SNAPSHOT);
  c.get(1).node.reportSnapshot(3, SnapshotStatus.FAILURE);
  assert.equal(pr.state, ProgressState.PROBE);
  c.dropIf = undefined;
  c.tickAll(3);
  assert.equal(c.raft(3).raftLog.lastIndex(), c.raft(1).raftLog.lastIndex());
});

test("a follower ignores a snapshot older than what it has committed", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  for (let i = 0; i < 3; i++) c.propose(1, `v${i}`);
  const committed = c.raft(2).raftLog.committed;
  c.get(2).node.step({
    type: MessageType.MSG_SNAP, from: 1, to: 2, term: c.raft(1).term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
    context: new Uint8Array(), snapshot: { data: new Uint8Array(), metadata: { index: 2, term: 1, confState: { voters: [1, 2, 3], learners: [] } } },
  });
  c.stabilize();
  assert.equal(c.raft(2).raftLog.committed, committed);
  assert.equal(c.get(2).storage.snapshot().metadata!.index, 1);
});

test("memory storage: compacted and unavailable ranges and stale snapshots are clear errors", () => {
  const s = new MemoryStorage();
  s.append([2, 3, 4, 5].map((i) => ({ term: 1, index: i - 1, type: 0, data: new Uint8Array() })));
  s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array([1]));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      return (err as RaftError).code;
    }
    return undefined;
  };
  assert.equal(code(() => s.entries(2, 4, Infinity)), RaftErrorCode.COMPACTED);
  assert.equal(code(() => s.entries(4, 9, Infinity)), RaftErrorCode.UNAVAILABLE);
  assert.equal(code(() => s.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array())), RaftErrorCode.SNAPSHOT_OUT_OF_DATE);
  assert.equal(code(() => s.applySnapshot({ data: new Uint8Array(), metadata: { index: 3, term: 1, confState: { voters: [], learners: [] } } })), RaftErrorCode.SNAPSHOT_OUT_OF_DATE);
  assert.equal(s.term(3), 1, "the term at the snapshot index is kept");
  assert.equal(s.term(2), undefined);
  assert.throws(() => s.entries(2, 4, Infinity), /entry 2 is compacted \(log starts at 4\)/);
});
