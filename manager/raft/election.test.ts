import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { StateType } from "./raft.ts";
import { MemoryStorage } from "./storage.ts";
import { TestCluster } from "./test-cluster.ts";
import { RawNode } from "./raw-node.ts";
import { seededRandom } from "./random.ts";

test("a single-voter cluster elects itself at once and commits alone", () => {
  const c = new TestCluster([1]);
  c.elect(1);
  assert.deepEqual(c.leaders(), [1]);
  c.propose(1, "a");
  assert.deepEqual(c.appliedText(1), ["a"]);
});

test("a candidate that gets a majority becomes leader; the others follow it in its term (§5.2)", () => {
  const c = new TestCluster([1, 2, 3, 4, 5]);
  c.isolate(4);
  c.isolate(5);
  c.elect(1);
  assert.deepEqual(c.leaders(), [1]);
  for (const id of [2, 3]) {
    assert.equal(c.raft(id).state, StateType.FOLLOWER);
    assert.equal(c.raft(id).lead, 1);
    assert.equal(c.raft(id).term, c.raft(1).term);
  }
});

test("without a majority no one is elected", () => {
  const c = new TestCluster([1, 2, 3, 4, 5]);
  c.isolate(3);
  c.isolate(4);
  c.isolate(5);
  c.elect(1);
  assert.deepEqual(c.leaders(), []);
  assert.equal(c.raft(1).state, StateType.PRE_CANDIDATE);
});

test("election timeouts are randomized within [electionTick, 2 * electionTick), from the injected seed", () => {
  const timeouts = new Set<number>();
  for (let seed = 1; seed <= 30; seed++) {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: { voters: [1, 2, 3], learners: [] } } });
    const node = new RawNode({ id: 1, storage, electionTick: 10, random: seededRandom(seed) });
    let ticks = 0;
    while (node.raft.state === StateType.FOLLOWER && ticks < 100) {
      node.tick();
      ticks++;
    }
    assert.ok(ticks >= 10 && ticks < 20, `seed ${seed}: campaigned after ${ticks} ticks`);
    timeouts.add(ticks);
  }
  assert.ok(timeouts.size >= 5, `only ${timeouts.size} distinct timeouts`);
  // Same seed, same timeout.
  const again = (seed: number): number => {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: { voters: [1, 2, 3], learners: [] } } });
    const node = new RawNode({ id: 1, storage, random: seededRandom(seed) });
    let ticks = 0;
    while (node.raft.state === StateType.FOLLOWER) {
      node.tick();
      ticks++;
    }
    return ticks;
  };
  assert.equal(again(7), again(7));
});

test("a node grants one vote per term, to the first candidate that asks (§5.2)", () => {
  const c = new TestCluster([1, 2, 3], { config: { preVote: false } });
  c.hold = [];
  c.get(1).node.campaign();
  c.get(2).node.campaign();
  c.deliver([...c.process(1), ...c.process(2)]);
  const held = c.hold;
  c.hold = undefined;
  // Node 3 sees node 1's request first, then node 2's, for the same term.
  const toThree = held.filter((m) => m.to === 3 && m.type === MessageType.MSG_VOTE);
  assert.equal(toThree.length, 2);
  c.deliver(toThree);
  assert.equal(c.raft(3).vote, toThree[0]!.from);
  const answers = c.delivered.filter((m) => m.from === 3 && m.type === MessageType.MSG_VOTE_RESP);
  assert.deepEqual(answers.map((m) => [m.to, m.reject]), [[toThree[0]!.from, false], [toThree[1]!.from, true]]);
});

test("a voter refuses a candidate whose log is less up to date than its own (§5.4.1)", () => {
  // No lease (check quorum off), so node 2 answers node 3 at once.
  const c = new TestCluster([1, 2, 3], { config: { checkQuorum: false } });
  c.elect(1);
  c.isolate(3);
  c.propose(1, "a"); // nodes 1 and 2 have it, node 3 does not
  c.heal();
  c.isolate(1);
  c.elect(3);
  // Node 2 refuses node 3 (shorter log of the same last term), so 3 cannot win.
  assert.notEqual(c.raft(3).state, StateType.LEADER);
  const refusal = c.delivered.find((m) => m.from === 2 && m.to === 3 && m.type === MessageType.MSG_PRE_VOTE_RESP);
  assert.equal(refusal?.reject, true);
  c.elect(2);
  assert.equal(c.raft(2).state, StateType.LEADER);
});

test("pre-vote: a node cut off does not raise its term, and does not depose the leader when it returns", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  const term = c.raft(1).term;
  c.isolate(3);
  c.tickAll(100);
  assert.equal(c.raft(3).term, term, "the isolated node campaigned without raising its term");
  c.heal();
  c.tickAll(5);
  assert.deepEqual(c.leaders(), [1]);
  assert.equal(c.raft(1).term, term);
});

test("without pre-vote the same cut-off node inflates its term and disrupts the leader on return", () => {
  const c = new TestCluster([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
  c.elect(1);
  const term = c.raft(1).term;
  c.isolate(3);
  c.tickAll(100);
  assert.ok(c.raft(3).term > term + 3);
  c.heal();
  c.tickAll(30);
  assert.ok(c.raft(1).term > term, "the leader was forced into a new term");
});

test("check quorum: a leader that cannot reach a majority steps down within an election timeout", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.isolate(1);
  c.tickAll(10);
  assert.equal(c.raft(1).state, StateType.LEADER);
  c.tickAll(11);
  assert.equal(c.raft(1).state, StateType.FOLLOWER);
  assert.equal(c.raft(1).lead, 0);
});

test("leader lease: followers that hear from a leader ignore a vote request for a higher term", () => {
  const c = new TestCluster([1, 2, 3], { config: { preVote: false } });
  c.elect(1);
  const term = c.raft(1).term;
  c.tickAll(2);
  // Node 3 forces a campaign in a higher term; 1 and 2 are in the lease and ignore it.
  c.elect(3);
  assert.deepEqual(c.leaders(), [1]);
  assert.equal(c.raft(2).term, term);
});

test("a stale leader that comes back steps down and its unreplicated entries are replaced", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "committed");
  c.isolate(1);
  c.get(1).node.propose(new TextEncoder().encode("lost"));
  c.stabilize();
  c.tickAll(25);
  const newLeader = c.leaders().find((id) => id !== 1);
  assert.ok(newLeader === 2 || newLeader === 3, `new leader ${newLeader}`);
  c.propose(newLeader, "new");
  c.heal();
  c.tickAll(5);
  assert.equal(c.raft(1).state, StateType.FOLLOWER);
  for (const id of [1, 2, 3]) assert.deepEqual(c.appliedText(id), ["committed", "new"], `node ${id}`);
});
