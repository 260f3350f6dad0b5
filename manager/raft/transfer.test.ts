import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { StateType } from "./raft.ts";
import { TestCluster } from "./test-cluster.ts";

test("leadership transfer to an up-to-date follower: it takes over at once, in the next term", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  const term = c.raft(1).term;
  c.get(1).node.transferLeadership(3);
  c.stabilize();
  assert.deepEqual(c.leaders(), [3]);
  assert.equal(c.raft(3).term, term + 1);
  c.propose(3, "b");
  assert.deepEqual(c.appliedText(1), ["a", "b"]);
});

test("a transfer to a lagging follower first brings it up to date; proposals meanwhile are refused", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  c.propose(1, "a");
  c.propose(1, "b");
  c.heal();
  c.hold = [];
  c.get(1).node.transferLeadership(3);
  c.deliver(c.process(1));
  assert.equal(c.raft(1).leadTransferee, 3);
  assert.throws(() => c.get(1).node.propose(new TextEncoder().encode("x")), (err: unknown) =>
    err instanceof RaftError && err.code === RaftErrorCode.PROPOSAL_DROPPED && /being transferred to 3/.test(err.message));
  const held = c.hold;
  c.hold = undefined;
  c.deliver(held);
  c.stabilize();
  assert.deepEqual(c.leaders(), [3]);
  assert.deepEqual(c.appliedText(3), ["a", "b"]);
  assert.ok(c.delivered.some((m) => m.type === MessageType.MSG_TIMEOUT_NOW && m.to === 3));
});

test("a transfer to an unreachable node is abandoned after an election timeout; the leader carries on", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  c.isolate(3);
  c.get(1).node.transferLeadership(3);
  c.stabilize();
  assert.equal(c.raft(1).leadTransferee, 3);
  c.tickAll(11);
  assert.equal(c.raft(1).leadTransferee, 0);
  assert.equal(c.raft(1).state, StateType.LEADER);
  c.propose(1, "b");
  assert.deepEqual(c.appliedText(2), ["a", "b"]);
});

test("a transfer request on a follower is passed to the leader", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.get(2).node.transferLeadership(2);
  c.stabilize();
  assert.deepEqual(c.leaders(), [2]);
});
