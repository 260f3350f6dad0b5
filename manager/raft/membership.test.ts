import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfChangeType } from "../../proto/gen/raft.ts";
import type { ConfChange } from "../../proto/gen/raft.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { StateType, validateConfChange } from "./raft.ts";
import { MemoryStorage } from "./storage.ts";
import { TestCluster } from "./test-cluster.ts";

const cc = (type: ConfChangeType, nodeId: number): ConfChange => ({ type, nodeId, context: new Uint8Array() });
const addLearner = (id: number): ConfChange => cc(ConfChangeType.CONF_CHANGE_ADD_LEARNER, id);
const addVoter = (id: number): ConfChange => cc(ConfChangeType.CONF_CHANGE_ADD_NODE, id);
const remove = (id: number): ConfChange => cc(ConfChangeType.CONF_CHANGE_REMOVE_NODE, id);

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RaftErrorCode.CONF_CHANGE_REFUSED);
    return err.message;
  }
  assert.fail("the change was not refused");
}

test("a new member joins as a learner, catches up from scratch, is promoted and then counts for the majority", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
  c.proposeConfChange(1, addLearner(4));
  c.addNode(4, new MemoryStorage()); // an empty node: it learns everything from the leader
  c.tickAll(3);
  assert.deepEqual(c.raft(1).prs.confState(), { voters: [1, 2, 3], learners: [4] });
  assert.equal(c.get(4).applied.length, 5, "the learner caught up");
  assert.equal(c.raft(4).isLearner, true);
  c.proposeConfChange(1, addVoter(4));
  c.tickAll(1);
  assert.deepEqual(c.raft(4).prs.confState(), { voters: [1, 2, 3, 4], learners: [] });
  // With 4 voters the majority is 3: leader and node 4 alone cannot commit, with node 2 they can.
  c.isolate(2);
  c.isolate(3);
  c.propose(1, "two of four");
  assert.equal(c.get(1).applied.length, 5);
  c.heal();
  c.isolate(3);
  c.tickAll(1);
  assert.equal(c.get(1).applied.length, 6);
});

test("removing a follower shrinks the majority", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.proposeConfChange(1, remove(3));
  c.tickAll(1);
  assert.deepEqual(c.raft(1).prs.confState(), { voters: [1, 2], learners: [] });
  c.isolate(3);
  c.propose(1, "without 3");
  assert.deepEqual(c.appliedText(2), ["without 3"]);
});

test("removing the leader: it steps down once the change applies, and the others elect a leader", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.proposeConfChange(1, remove(1));
  c.tickAll(1);
  assert.equal(c.raft(1).state, StateType.FOLLOWER);
  c.isolate(1);
  c.tickAll(40);
  const leaders = c.leaders();
  assert.equal(leaders.length, 1);
  assert.ok(leaders[0] === 2 || leaders[0] === 3);
  c.propose(leaders[0]!, "after removal");
  assert.deepEqual(c.appliedText(2), ["after removal"]);
  assert.equal(c.raft(1).promotable(), false, "the removed node never campaigns again");
});

test("one change at a time: a second change is refused until the first is applied", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.hold = [];
  c.get(1).node.proposeConfChange(addLearner(4));
  const message = refusal(() => c.get(1).node.proposeConfChange(addLearner(5)));
  assert.match(message, /the previous membership change, or this leader's first entry of its term \(entry \d+\), is not applied yet/);
  c.hold = undefined;
});

test("a new leader refuses membership changes until its own first entry is applied (the single-server bug of §4.1)", () => {
  const c = new TestCluster([1, 2, 3]);
  c.dropIf = (m) => m.from === 1 && m.entries.length > 0;
  c.elect(1);
  assert.equal(c.raft(1).state, StateType.LEADER);
  refusal(() => c.get(1).node.proposeConfChange(addLearner(4)));
  c.dropIf = undefined;
  c.tickAll(2);
  c.get(1).node.proposeConfChange(addLearner(4)); // now accepted
});

test("invalid membership changes are refused with the reason", () => {
  const c = new TestCluster([1]);
  c.elect(1);
  assert.match(refusal(() => c.get(1).node.proposeConfChange(remove(1))), /node 1 is the last voter and cannot be removed/);
  assert.match(refusal(() => c.get(1).node.proposeConfChange(addVoter(1))), /node 1 is already a voter/);
  assert.match(refusal(() => c.get(1).node.proposeConfChange(remove(9))), /node 9 is not a member/);
  assert.match(refusal(() => c.get(1).node.proposeConfChange(addLearner(0))), /node id must be a positive integer/);
  assert.equal(validateConfChange({ voters: [1, 2], learners: [3] }, addLearner(3)), "node 3 is already a learner");
});

test("membership changes go through the leader: a follower refuses them, naming the leader", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  assert.throws(() => c.get(2).node.proposeConfChange(addLearner(4)), (err: unknown) =>
    err instanceof RaftError && err.code === RaftErrorCode.PROPOSAL_DROPPED && err.leader === 1);
});

test("a restarted node rebuilds its membership from the snapshot and the log", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.proposeConfChange(1, addLearner(4));
  c.tickAll(1);
  const storage = c.get(2).storage;
  const restarted = c.addNode(2, storage);
  assert.deepEqual(restarted.node.raft.prs.confState(), { voters: [1, 2, 3], learners: [] }, "from the snapshot");
  c.tickAll(2);
  assert.deepEqual(restarted.node.raft.prs.confState(), { voters: [1, 2, 3], learners: [4] }, "after replaying the log");
});
