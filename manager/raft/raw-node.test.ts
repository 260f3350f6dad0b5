import { test } from "node:test";
import assert from "node:assert/strict";
import { MessageType } from "../../proto/gen/raft.ts";
import { message, StateType } from "./raft.ts";
import { RawNode } from "./raw-node.ts";
import type { Ready } from "./raw-node.ts";
import { seededRandom } from "./random.ts";
import { MemoryStorage } from "./storage.ts";
import { RaftError, RaftErrorCode } from "./errors.ts";
import { TestCluster } from "./test-cluster.ts";
import type { Config } from "./config.ts";

function bootstrapped(voters: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: { voters, learners: [] } } });
  s.setHardState({ term: 1, vote: 0, commit: 1 });
  return s;
}

test("a vote is handed out in the same Ready as the hard state recording it, which must be synced first", () => {
  const node = new RawNode({ id: 2, storage: bootstrapped([1, 2, 3]), random: seededRandom(1) });
  node.step(message({ type: MessageType.MSG_VOTE, from: 1, to: 2, term: 5, index: 1, logTerm: 1 }));
  const rd = node.ready();
  assert.deepEqual(rd.hardState, { term: 5, vote: 1, commit: 1 });
  assert.equal(rd.mustSync, true);
  assert.equal(rd.messages.length, 1);
  assert.equal(rd.messages[0]!.type, MessageType.MSG_VOTE_RESP);
  assert.equal(rd.messages[0]!.reject, false);
  node.advance(rd);
  assert.equal(node.hasReady(), false);
});

/** The storage of a follower of a 3-node cluster that committed "a" and "b". */
function followerStorageWithTwoEntries(): MemoryStorage {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  c.propose(1, "b");
  c.tickAll(1);
  return c.get(2).storage;
}

test("a restarted node keeps its term and vote, and replays committed entries after its snapshot", () => {
  const storage = followerStorageWithTwoEntries();
  const hs = storage.initialState().hardState;
  const restarted = new RawNode({ id: 2, storage, random: seededRandom(9) });
  assert.equal(restarted.raft.term, hs.term);
  assert.equal(restarted.raft.vote, hs.vote);
  const rd = restarted.ready();
  const replayed = rd.committedEntries.filter((e) => e.data.byteLength > 0).map((e) => new TextDecoder().decode(e.data));
  assert.deepEqual(replayed, ["a", "b"]);
  assert.equal(rd.entries.length, 0, "nothing new to persist");
});

test("a restarted node told it already applied up to an index does not get those entries again", () => {
  const storage = followerStorageWithTwoEntries();
  const restarted = new RawNode({ id: 2, storage, random: seededRandom(9), applied: storage.lastIndex() - 1 });
  const rd = restarted.ready();
  assert.deepEqual(rd.committedEntries.map((e) => new TextDecoder().decode(e.data)), ["b"]);
});

test("status reports the role, the log and, on the leader, each member's progress", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, "a");
  const st = c.get(1).node.status();
  assert.equal(st.softState.raftState, "leader");
  assert.equal(st.softState.lead, 1);
  assert.deepEqual(st.confState, { voters: [1, 2, 3], learners: [] });
  assert.equal(st.progress?.get(2)?.match, st.lastIndex);
  assert.equal(c.get(2).node.status().progress, undefined);
});

test("bad configuration is refused with what was wrong", () => {
  const storage = new MemoryStorage();
  const random = seededRandom(1);
  const err = (cfg: Config): string => {
    try {
      new RawNode(cfg);
    } catch (e) {
      assert.ok(e instanceof RaftError);
      assert.equal(e.code, RaftErrorCode.INVALID_CONFIG);
      return e.message;
    }
    return "accepted";
  };
  assert.match(err({ id: 0, storage, random }), /id must be a positive integer, got 0/);
  assert.match(err({ id: 1, storage, random, heartbeatTick: 0 }), /heartbeatTick must be a positive integer/);
  assert.match(err({ id: 1, storage, random, electionTick: 1, heartbeatTick: 1 }), /electionTick \(1\) must be an integer greater than heartbeatTick \(1\)/);
  assert.match(err({ id: 1, storage, random, maxInflightMsgs: 0 }), /maxInflightMsgs must be positive/);
});

test("local message types coming from the network are refused", () => {
  const node = new RawNode({ id: 1, storage: bootstrapped([1, 2, 3]), random: seededRandom(1) });
  assert.throws(() => node.step(message({ type: MessageType.MSG_HUP, from: 2, to: 1 })), /is local and cannot come from a peer/);
});

test("answers from a node that is not a member are ignored", () => {
  const c = new TestCluster([1, 2, 3]);
  c.elect(1);
  const before = c.get(1).node.status();
  c.get(1).node.step(message({ type: MessageType.MSG_APP_RESP, from: 9, to: 1, term: c.raft(1).term, index: 100 }));
  assert.deepEqual(c.get(1).node.status(), before);
});

/** The data of the non-empty entries among `es`, as text. */
function texts(es: { data: Uint8Array }[]): string[] {
  return es.filter((e) => e.data.byteLength > 0).map((e) => new TextDecoder().decode(e.data));
}

/**
 * Node 1 of three, elected with node 2's votes (pre-vote, then vote), its empty entry persisted;
 * `persist` writes a Ready to its storage and `ack` steps acknowledgements up to `index`.
 */
function electedLeader(seed: number): {
  node: RawNode; storage: MemoryStorage; persist: (rd: Ready) => void; ack: (index: number, from: number[]) => void;
} {
  const storage = bootstrapped([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, random: seededRandom(seed) });
  const persist = (rd: Ready): void => {
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
  };
  node.campaign();
  for (let round = 0; round < 2 && node.raft.state !== StateType.LEADER; round++) {
    const rd = node.ready();
    persist(rd);
    node.advance(rd);
    const ask = rd.messages.find((m) => m.to === 2)!;
    const answer = ask.type === MessageType.MSG_PRE_VOTE ? MessageType.MSG_PRE_VOTE_RESP : MessageType.MSG_VOTE_RESP;
    node.step(message({ type: answer, from: 2, to: 1, term: ask.term, reject: false }));
  }
  assert.equal(node.raft.state, StateType.LEADER);
  const ack = (index: number, from: number[]): void => {
    for (const id of from) node.step(message({ type: MessageType.MSG_APP_RESP, from: id, to: 1, term: node.raft.term, index }));
  };
  const rd = node.ready(); // the leader's empty entry
  persist(rd);
  node.advance(rd);
  return { node, storage, persist, ack };
}

test("entries committed while a Ready is persisted can be taken at once, and the next Ready does not repeat them", () => {
  const { node, persist, ack } = electedLeader(3);
  ack(node.raft.raftLog.lastIndex(), [2]);
  node.propose(new TextEncoder().encode("x"));
  // A Ready carrying "x" and the committed empty entry, applied at once; its disk write is under way.
  let rd = node.ready();
  assert.deepEqual(texts(rd.entries), ["x"]);
  const inFlight = rd;
  // Nodes 2 and 3 acknowledge "x" before the leader's own write is done: a majority holds it,
  // so it is committed, and taken.
  const xIndex = node.raft.raftLog.lastIndex();
  ack(xIndex, [2, 3]);
  assert.deepEqual(node.takeCommittedEntries().map((e) => e.index), [xIndex], "only x: the empty entry was handed out in the Ready");
  assert.deepEqual(node.takeCommittedEntries(), [], "taken once");
  persist(inFlight);
  node.advance(inFlight);
  node.propose(new TextEncoder().encode("y"));
  rd = node.ready();
  assert.deepEqual(texts(rd.committedEntries), [], "the next Ready does not hand out x again");
  assert.deepEqual(texts(rd.entries), ["y"]);
  persist(rd);
  node.advance(rd);
  ack(node.raft.raftLog.lastIndex(), [2]);
  rd = node.ready();
  assert.deepEqual(texts(rd.committedEntries), ["y"], "entries not taken come in a Ready as before");
  node.advance(rd);
  assert.equal(node.raft.raftLog.applied, node.raft.raftLog.lastIndex());
});

test("a leader's appends made while a Ready is persisted go out at once, and a majority of followers commits them", () => {
  const { node, storage, persist, ack } = electedLeader(5);
  ack(node.raft.raftLog.lastIndex(), [2, 3]);
  node.propose(new TextEncoder().encode("x"));
  const inFlight = node.ready(); // carries x; its disk write is under way
  assert.deepEqual(texts(inFlight.entries), ["x"]);
  node.propose(new TextEncoder().encode("y"));
  // An answer to a vote (planted: a leader makes none) would have to wait for the disk: only
  // what may precede the disk write is taken.
  node.raft.msgs.push(message({ type: MessageType.MSG_VOTE_RESP, from: 1, to: 3, term: node.raft.term }));
  const early = node.takeMessagesSendableBeforePersist();
  assert.deepEqual(early.map((m) => [m.type, m.to, texts(m.entries)]).sort(),
    [[MessageType.MSG_APP, 2, ["y"]], [MessageType.MSG_APP, 3, ["y"]]], "y's appends, to both followers");
  assert.deepEqual(node.raft.msgs.map((m) => m.type), [MessageType.MSG_VOTE_RESP], "the rest stays for the next Ready");
  node.raft.msgs = [];
  // Both followers hold x and y: committed with neither on the leader's disk yet.
  const yIndex = node.raft.raftLog.lastIndex();
  ack(yIndex, [2, 3]);
  assert.equal(node.raft.raftLog.committed, yIndex);
  assert.deepEqual(texts(node.takeCommittedEntries()), ["x", "y"]);
  persist(inFlight);
  node.advance(inFlight);
  const rd = node.ready();
  assert.deepEqual(texts(rd.entries), ["y"], "y is persisted with the next Ready");
  assert.deepEqual(texts(rd.committedEntries), [], "and not applied twice");
  assert.ok(!rd.messages.some((m) => m.type === MessageType.MSG_APP && texts(m.entries).includes("y")), "nor sent twice");
  persist(rd);
  node.advance(rd);
  assert.equal(storage.lastIndex(), yIndex);
});
