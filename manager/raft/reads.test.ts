import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { TestCluster } from "./test-cluster.ts";

const ctx = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

test("ReadIndex on the leader: after a heartbeat round, the read may be served at the commit index", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  const before = c.get(1).storage.lastIndex();
  c.delivered = [];
  c.get(1).node.readIndex(ctx("req-1"));
  c.stabilize();
  const rs = c.get(1).readStates;
  assert.equal(rs.length, 1);
  assert.equal(str(rs[0]!.requestCtx), "req-1");
  assert.equal(rs[0]!.index, c.raft(1).raftLog.committed);
  assert.equal(c.get(1).storage.lastIndex(), before, "no entry was written for the read");
  assert.ok(c.delivered.some((m) => m.type === MessageType.MSG_HEARTBEAT && str(m.context) === "req-1"), "leadership confirmed by heartbeats");
});

test("ReadIndex on a follower is confirmed by the leader and answered to the follower", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  c.get(3).node.readIndex(ctx("from-3"));
  c.stabilize();
  const rs = c.get(3).readStates;
  assert.equal(rs.length, 1);
  assert.equal(str(rs[0]!.requestCtx), "from-3");
  assert.equal(rs[0]!.index, c.raft(1).raftLog.committed);
});

test("a leader cut off from the majority cannot confirm a read (it might be stale)", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.isolate(1);
  c.get(1).node.readIndex(ctx("stale?"));
  c.stabilize();
  assert.equal(c.get(1).readStates.length, 0);
  c.heal();
  c.tickAll(1);
  assert.equal(c.get(1).readStates.length, 1, "confirmed once the majority answers again");
});

test("a new leader answers reads only after committing an entry of its own term", () => {
  const c = new TestCluster([1, 2, 3]);
  c.dropIf = (m) => m.type === MessageType.MSG_APP && m.from === 1 && m.entries.length > 0;
  c.elect(1);
  c.get(1).node.readIndex(ctx("early"));
  c.stabilize();
  assert.equal(c.get(1).readStates.length, 0, "held back: the leader's commit index may be behind");
  c.dropIf = undefined;
  c.tickAll(2);
  const rs = c.get(1).readStates;
  assert.equal(rs.length, 1);
  assert.ok(rs[0]!.index >= c.raft(1).raftLog.committed - 0 && c.raft(1).raftLog.term(rs[0]!.index) === c.raft(1).term);
});

test("several reads are confirmed together by one heartbeat round, in order", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.hold = [];
  for (const r of ["r1", "r2", "r3"]) c.get(1).node.readIndex(ctx(r));
  c.deliver(c.process(1));
  const held = c.hold;
  c.hold = undefined;
  // Answer only the heartbeats of the last request: they confirm all three.
  c.deliver(held.filter((m) => str(m.context) === "r3"));
  assert.deepEqual(c.get(1).readStates.map((r) => str(r.requestCtx)), ["r1", "r2", "r3"]);
});
