import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { makeRaft } from "../../test/sim/bugs.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { StateType } from "./raft.ts";
import { TestCluster } from "./test-cluster.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test("entries proposed on the leader are replicated, committed and applied in order on every node (§5.3)", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  for (const v of ["a", "b", "c"]) c.propose(1, v);
  c.tickAll(2);
  for (const id of [1, 2, 3]) assert.deepEqual(c.appliedText(id), ["a", "b", "c"], `node ${id}`);
});

test("an entry is committed once a majority holds it; a minority cannot commit (§5.3)", () => {
  const c = new TestCluster([1, 2, 3, 4, 5]);
  c.elect(1);
  c.isolate(4);
  c.isolate(5);
  c.propose(1, "majority");
  assert.deepEqual(c.appliedText(1), ["majority"]);
  c.heal();
  c.isolate(3);
  c.isolate(4);
  c.isolate(5);
  c.propose(1, "minority");
  assert.deepEqual(c.appliedText(1), ["majority"], "committed with only 2 of 5");
});

test("commit rule: a leader does not commit an entry of an earlier term by counting replicas (§5.4.2, Figure 8)", () => {
  // Node 1 holds an entry of term 2 that nobody else has; it wins term 3 and replicates it.
  const logs = { 1: [2], 2: [], 3: [], 4: [], 5: [] };
  const c = TestCluster.withLogs(logs, { config: { maxSizePerMsg: 1 } });
  // Followers may receive the term-2 entry but not the leader's own no-op (after their first
  // rejection, which the leader needs to find where their logs end).
  c.dropIf = (m) => m.type === MessageType.MSG_APP && m.entries.some((e) => e.term > 2) && c.raft(m.to).raftLog.lastIndex() >= 2;
  c.elect(1);
  assert.equal(c.raft(1).state, StateType.LEADER);
  const term = c.raft(1).term;
  for (const id of [2, 3, 4, 5]) assert.equal(c.raft(id).raftLog.lastTerm(), 2, `node ${id} holds the term-2 entry`);
  assert.equal(c.raft(1).raftLog.committed, 1, "the term-2 entry at index 2 must not commit by counting");
  // Once an entry of the leader's own term reaches a majority, both commit.
  c.dropIf = undefined;
  c.tickAll(3);
  assert.equal(c.raft(1).raftLog.committed, 3);
  assert.equal(c.raft(1).raftLog.term(3), term);
});

test("the planted commit-rule bug commits the earlier-term entry in the same situation", () => {
  const c = TestCluster.withLogs({ 1: [2], 2: [], 3: [], 4: [], 5: [] }, {
    config: { maxSizePerMsg: 1 }, makeRaft: (cfg) => makeRaft(cfg, "commit-earlier-term"),
  });
  c.dropIf = (m) => m.type === MessageType.MSG_APP && m.entries.some((e) => e.term > 2) && c.raft(m.to).raftLog.lastIndex() >= 2;
  c.elect(1);
  assert.equal(c.raft(1).raftLog.committed, 2);
});

test("fast backtracking: a follower with a long divergent tail is repaired in one or two round trips", () => {
  const stale = Array.from({ length: 50 }, () => 2);
  const c = TestCluster.withLogs({ 1: Array(10).fill(3), 2: stale, 3: Array(10).fill(3) });
  c.elect(1);
  const rejections = c.delivered.filter((m) => m.from === 2 && m.type === MessageType.MSG_APP_RESP && m.reject);
  assert.ok(rejections.length >= 1 && rejections.length <= 2, `${rejections.length} rejections`);
  c.propose(1, "x");
  assert.equal(c.raft(2).raftLog.lastIndex(), c.raft(1).raftLog.lastIndex());
  assert.equal(c.raft(2).raftLog.lastTerm(), c.raft(1).term);
});

test("flow control: no more append messages in flight to a follower than maxInflightMsgs", () => {
  const c = new TestCluster([1, 2, 3], { config: { maxInflightMsgs: 2 } });
  c.elect(1);
  c.dropIf = (m) => m.from === 2 && m.type === MessageType.MSG_APP_RESP;
  c.delivered = [];
  for (let i = 0; i < 10; i++) c.propose(1, `e${i}`);
  const appendsTo = (id: number): number => c.delivered.filter((m) => m.to === id && m.type === MessageType.MSG_APP && m.entries.length > 0).length;
  assert.equal(appendsTo(2), 2);
  assert.equal(appendsTo(3), 10);
  assert.equal(c.get(1).applied.length, 10, "the majority of 1 and 3 commits without node 2");
  c.dropIf = undefined;
  c.tickAll(3);
  assert.equal(c.get(2).applied.length, 10, "node 2 catches up once it answers again");
});

test("flow control: bytes in flight to a follower are bounded by maxInflightBytes", () => {
  const c = new TestCluster([1, 2, 3], { config: { maxInflightMsgs: 100, maxInflightBytes: 100 } });
  c.elect(1);
  c.dropIf = (m) => m.from === 2 && m.type === MessageType.MSG_APP_RESP;
  c.delivered = [];
  for (let i = 0; i < 10; i++) c.propose(1, "x".repeat(60));
  const appends = c.delivered.filter((m) => m.to === 2 && m.type === MessageType.MSG_APP && m.entries.length > 0);
  assert.equal(appends.length, 2, "76 bytes, then 152 >= 100: the window is full");
});

test("pipelining: the leader sends new appends before earlier ones are acknowledged", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.hold = [];
  c.get(1).node.propose(text("a"));
  c.deliver(c.process(1));
  c.get(1).node.propose(text("b"));
  c.deliver(c.process(1));
  const toTwo = c.hold.filter((m) => m.to === 2 && m.type === MessageType.MSG_APP);
  assert.equal(toTwo.length, 2);
  assert.equal(toTwo[1]!.index, toTwo[0]!.index + 1, "the second append follows the first optimistically");
});

test("batching: a batch of proposals travels as one append message per follower", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.delivered = [];
  c.get(1).node.proposeBatch(Array.from({ length: 100 }, (_, i) => text(`b${i}`)));
  c.stabilize();
  const appends = c.delivered.filter((m) => m.to === 2 && m.type === MessageType.MSG_APP && m.entries.length > 0);
  assert.equal(appends.length, 1);
  assert.equal(appends[0]!.entries.length, 100);
  assert.equal(c.get(3).applied.length, 100);
});

test("maxSizePerMsg splits appends, but always sends at least one entry", () => {
  const c = new TestCluster([1, 2, 3], { config: { maxSizePerMsg: 50 } });
  c.elect(1);
  c.delivered = [];
  c.get(1).node.proposeBatch(Array.from({ length: 10 }, () => text("y".repeat(40))));
  c.stabilize();
  const appends = c.delivered.filter((m) => m.to === 2 && m.type === MessageType.MSG_APP && m.entries.length > 0);
  assert.equal(appends.length, 10);
  assert.equal(c.get(2).applied.length, 10);
});

test("a proposal on a follower is forwarded to the leader and committed", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(3, "via follower");
  for (const id of [1, 2, 3]) assert.deepEqual(c.appliedText(id), ["via follower"]);
});

test("with forwarding disabled a follower refuses a proposal, naming the leader", () => {
  const c = new TestCluster([1, 2, 3], { config: { disableProposalForwarding: true } });
  c.elect(1);
  assert.throws(() => c.get(2).node.propose(text("x")), (err: unknown) => {
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RaftErrorCode.PROPOSAL_DROPPED);
    assert.equal(err.leader, 1);
    assert.match(err.message, /not the leader; the leader is 1/);
    return true;
  });
});

test("a proposal with no leader known is refused, with no leader hint", () => {
  const c = new TestCluster([1, 2, 3]);
  assert.throws(() => c.get(2).node.propose(text("x")), (err: unknown) =>
    err instanceof RaftError && err.code === RaftErrorCode.PROPOSAL_DROPPED && err.leader === 0 && /no leader/.test(err.message));
});

test("learners receive the log but neither vote nor count towards commitment", () => {
  const c = new TestCluster([1, 2, 3, 4], { learners: [4] });
  c.elect(1);
  c.propose(1, "a");
  assert.deepEqual(c.appliedText(4), ["a"], "the learner applies");
  c.isolate(2);
  c.isolate(3);
  c.propose(1, "b");
  assert.deepEqual(c.appliedText(1), ["a"], "leader and learner are not a majority of 3 voters");
  c.heal();
  c.isolate(1);
  c.tickAll(100);
  assert.notEqual(c.raft(4).state, StateType.LEADER);
  assert.notEqual(c.raft(4).state, StateType.CANDIDATE);
  assert.ok(c.leaders().some((id) => id === 2 || id === 3));
});
