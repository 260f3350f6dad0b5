import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import type { Node } from "../../proto/gen/objects.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import { FakeRaft, makeCluster, makeNode } from "./testing.ts";
import type { WriteTx } from "./tx.ts";
import { encodeTransaction } from "./wire.ts";

/** Asserts that `promise` rejects with a StoreError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: StoreErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

function drain(tx: WriteTx, node: Node): void {
  tx.update("node", { ...node, spec: { ...node.spec!, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN } });
}

test("create, read, update and delete a node; versions are Raft indexes and timestamps come from the proposer", async () => {
  let now = 5_000;
  const { store } = new FakeRaft({ clock: () => now });
  const created = await store.update((tx) => tx.create("node", makeNode("n1", { hostname: "alpha" })));
  assert.equal(created.index, 1);
  assert.deepEqual(created.changes.map((c) => [c.kind, c.table, c.object.id]), [["create", "node", "n1"]]);
  const read = store.view((tx) => tx.get("node", "n1"))!;
  assert.equal(read.description?.hostname, "alpha");
  assert.deepEqual(read.meta, { version: 1, createdAt: 5_000, updatedAt: 5_000 });

  now = 12_000;
  const updated = await store.update((tx) => drain(tx, tx.get("node", "n1")!));
  const after = store.view((tx) => tx.get("node", "n1"))!;
  assert.equal(after.spec?.availability, NodeAvailability.NODE_AVAILABILITY_DRAIN);
  assert.deepEqual(after.meta, { version: 2, createdAt: 5_000, updatedAt: 12_000 });
  const change = updated.changes[0]!;
  assert.ok(change.kind === "update" && change.table === "node");
  assert.equal(change.old.spec?.availability, NodeAvailability.NODE_AVAILABILITY_ACTIVE);
  assert.equal(change.object, after, "update resolves with the object as stored");

  const deleted = await store.update((tx) => tx.delete("node", "n1"));
  assert.equal(deleted.changes[0]!.kind, "delete");
  assert.equal(deleted.changes[0]!.object.meta?.version, 2, "a delete event carries the object as it was");
  assert.equal(store.view((tx) => tx.get("node", "n1")), undefined);
  assert.equal(store.appliedIndex, 3);
});

test("indexes find nodes by name (ignoring case), role, availability and raft id, and follow updates and deletes", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => {
    tx.create("node", makeNode("m1", { hostname: "Manager-1", role: NodeRole.NODE_ROLE_MANAGER, raftId: 11 }));
    tx.create("node", makeNode("m2", { hostname: "manager-2", role: NodeRole.NODE_ROLE_MANAGER, raftId: 12 }));
    tx.create("node", makeNode("w1", { hostname: "worker-1", availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }));
    tx.create("node", makeNode("w2", { hostname: "worker-1" })); // hostnames need not be unique
  });
  const ids = (nodes: Node[]): string[] => nodes.map((n) => n.id).sort();
  store.view((tx) => {
    assert.deepEqual(ids(tx.find("node", "name", "MANAGER-1")), ["m1"]);
    assert.deepEqual(ids(tx.find("node", "name", "worker-1")), ["w1", "w2"]);
    assert.deepEqual(ids(tx.find("node", "role", NodeRole.NODE_ROLE_MANAGER)), ["m1", "m2"]);
    assert.deepEqual(ids(tx.find("node", "role", NodeRole.NODE_ROLE_WORKER)), ["w1", "w2"]);
    assert.deepEqual(ids(tx.find("node", "availability", NodeAvailability.NODE_AVAILABILITY_PAUSE)), ["w1"]);
    assert.deepEqual(ids(tx.find("node", "raftId", 12)), ["m2"]);
    assert.deepEqual(ids(tx.find("node", "raftId", 0)), [], "workers have no raft id");
    assert.deepEqual(ids(tx.list("node")), ["m1", "m2", "w1", "w2"]);
    // @ts-expect-error: the role index's keys are NodeRole values, not strings
    assert.deepEqual(tx.find("node", "role", "manager"), []);
    // @ts-expect-error: nodes have no hostname index
    assert.throws(() => tx.find("node", "hostname", "worker-1"), /table node has no index "hostname"/);
  });

  // A node renamed through its spec is found by the new name only; a demoted one leaves the role index.
  await store.update((tx) => {
    const m2 = tx.get("node", "m2")!;
    tx.update("node", { ...m2, role: NodeRole.NODE_ROLE_WORKER, managerStatus: undefined, spec: { ...m2.spec!, annotations: { name: "db", labels: {} } } });
    tx.delete("node", "w1");
  });
  store.view((tx) => {
    assert.deepEqual(ids(tx.find("node", "name", "manager-2")), []);
    assert.deepEqual(ids(tx.find("node", "name", "DB")), ["m2"]);
    assert.deepEqual(ids(tx.find("node", "role", NodeRole.NODE_ROLE_MANAGER)), ["m1"]);
    assert.deepEqual(ids(tx.find("node", "raftId", 12)), []);
    assert.deepEqual(ids(tx.find("node", "name", "worker-1")), ["w2"]);
    assert.deepEqual(ids(tx.find("node", "availability", NodeAvailability.NODE_AVAILABILITY_PAUSE)), []);
  });
});

test("a write transaction reads its own staged writes, and they fold into one action per object", async () => {
  const raft = new FakeRaft({ delivery: "manual" });
  const { store } = raft;
  const pending = store.update((tx) => {
    tx.create("node", makeNode("n1", { hostname: "one" }));
    const staged = tx.get("node", "n1")!;
    assert.equal(staged.description?.hostname, "one");
    assert.deepEqual(tx.find("node", "name", "one").map((n) => n.id), ["n1"]);
    drain(tx, staged);
    tx.create("node", makeNode("n2"));
    tx.delete("node", "n2");
    assert.deepEqual(tx.list("node").map((n) => n.id), ["n1"]);
  });
  assert.equal(store.view((tx) => tx.get("node", "n1")), undefined, "nothing is visible before it commits");
  raft.commit();
  const committed = await pending;
  assert.deepEqual(committed.changes.map((c) => [c.kind, c.object.id]), [["create", "n1"]]);
  const created = committed.changes[0]!;
  assert.ok(created.table === "node");
  assert.equal(created.object.spec?.availability, NodeAvailability.NODE_AVAILABILITY_DRAIN);
  assert.equal(raft.log.length, 1);
});

test("an update from a stale version fails with CONFLICT and a message that says which versions", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  const old = store.view((tx) => tx.get("node", "n1"))!;
  await store.update((tx) => drain(tx, tx.get("node", "n1")!));
  await rejectsWith(store.update((tx) => drain(tx, old)), StoreErrorCode.CONFLICT,
    /^update out of sequence: node n1 has version 2, the update was made from version 1$/);
});

test("concurrent updates of one object from the same version: the first committed wins, the other gets CONFLICT", async () => {
  const raft = new FakeRaft({ delivery: "async" });
  const { store } = raft;
  await store.update((tx) => tx.create("node", makeNode("n1")));
  const label = (value: string) => store.update((tx) => {
    const n = tx.get("node", "n1")!;
    tx.update("node", { ...n, spec: { ...n.spec!, annotations: { name: "", labels: { owner: value } } } });
  });
  const results = await Promise.allSettled([label("a"), label("b")]);
  assert.equal(raft.maxInFlight, 2, "both were proposed before either committed");
  assert.equal(results[0]!.status, "fulfilled");
  assert.equal(results[1]!.status, "rejected");
  const error = (results[1] as PromiseRejectedResult).reason as StoreError;
  assert.equal(error.code, StoreErrorCode.CONFLICT);
  assert.match(error.message, /node n1 has version 2, the update was made from version 1/);
  assert.deepEqual(store.view((tx) => tx.get("node", "n1")!.spec?.annotations?.labels), { owner: "a" });
});

test("a refused transaction changes nothing, not even its writes that were valid", async () => {
  const raft = new FakeRaft({ delivery: "manual" });
  const { store } = raft;
  const first = store.update((tx) => tx.create("node", makeNode("n1")));
  raft.commit();
  await first;
  const stale = store.view((tx) => tx.get("node", "n1"))!;
  const winner = store.update((tx) => drain(tx, tx.get("node", "n1")!));
  const loser = store.update((tx) => {
    tx.create("node", makeNode("n2"));
    tx.create("cluster", makeCluster("c1"));
    drain(tx, stale);
  });
  raft.commit();
  await winner;
  await rejectsWith(loser, StoreErrorCode.CONFLICT, /update out of sequence/);
  store.view((tx) => {
    assert.equal(tx.get("node", "n2"), undefined);
    assert.equal(tx.get("cluster", "c1"), undefined);
  });
  assert.equal(store.appliedIndex, 3, "the refused entry still counts as applied");
});

test("a second cluster with a taken name (in any case) is refused, and so is a create of an existing id", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => tx.create("cluster", makeCluster("c1", "default")));
  await rejectsWith(store.update((tx) => tx.create("cluster", makeCluster("c2", "Default"))), StoreErrorCode.ALREADY_EXISTS,
    /^cluster c2: name "default" is already used by cluster c1$/);
  await rejectsWith(store.update((tx) => tx.create("cluster", makeCluster("c1", "other"))), StoreErrorCode.ALREADY_EXISTS,
    /^cluster c1 already exists$/);
  // Freeing a name and taking it in the same transaction works.
  await store.update((tx) => {
    tx.update("cluster", { ...tx.get("cluster", "c1")!, spec: { annotations: { name: "old", labels: {} } } });
    tx.create("cluster", makeCluster("c2", "default"));
  });
  assert.deepEqual(store.view((tx) => tx.find("cluster", "name", "default").map((c) => c.id)), ["c2"]);
});

test("uniqueness and existence are decided when applied, between writers that staged concurrently", async () => {
  const raft = new FakeRaft({ delivery: "async" });
  const { store } = raft;
  const results = await Promise.allSettled([
    store.update((tx) => tx.create("cluster", makeCluster("c1", "prod"))),
    store.update((tx) => tx.create("cluster", makeCluster("c2", "prod"))),
    store.update((tx) => tx.create("node", makeNode("n1", { raftId: 7 }))),
    store.update((tx) => tx.create("node", makeNode("n1"))),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "rejected"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /name "prod" is already used by cluster c1/);
  assert.match(String((results[3] as PromiseRejectedResult).reason), /node n1 already exists/);
});

test("updates and deletes of missing objects fail with NOT_FOUND", async () => {
  const { store } = new FakeRaft();
  await rejectsWith(store.update((tx) => tx.delete("node", "ghost")), StoreErrorCode.NOT_FOUND, /^node ghost not found$/);
  await rejectsWith(store.update((tx) => tx.update("node", { ...makeNode("ghost"), meta: { version: 1, createdAt: 0, updatedAt: 0 } })),
    StoreErrorCode.NOT_FOUND, /^node ghost not found$/);
});

test("invalid objects are refused with a message that says what was wrong", async () => {
  const { store } = new FakeRaft();
  await rejectsWith(store.update((tx) => tx.create("node", makeNode(""))), StoreErrorCode.INVALID, /^invalid node: id is empty$/);
  await rejectsWith(store.update((tx) => tx.create("cluster", makeCluster("c1", ""))), StoreErrorCode.INVALID,
    /^invalid cluster c1: spec.annotations.name is empty$/);
  await store.update((tx) => tx.create("node", makeNode("n1")));
  await rejectsWith(store.update((tx) => tx.update("node", makeNode("n1"))), StoreErrorCode.INVALID,
    /^invalid node n1: an update must carry the meta.version it was read at$/);
  await rejectsWith(store.update(async (tx) => tx.delete("node", "n1")), StoreErrorCode.INVALID, /must be synchronous/);
  assert.ok(store.view((tx) => tx.get("node", "n1")), "the asynchronous callback's delete was not proposed");
});

test("entries that are not valid transactions are refused alike on every replica", () => {
  const raft = new FakeRaft({ replicas: 2 });
  const garbage = new Uint8Array([0x12, 0xff, 0xff]);
  const results = raft.stores.map((s) => s.apply(1, garbage));
  for (const r of results) {
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, StoreErrorCode.INVALID);
    assert.match(!r.ok ? r.error.message : "", /^not a store transaction/);
  }
  assert.equal(raft.stores[0]!.apply(2, new Uint8Array()).ok, true, "an empty entry (a leader's no-op) is an empty transaction");
  assert.throws(() => raft.stores[0]!.apply(2, new Uint8Array()), /entry 2 applied after entry 2/);
});

test("an entry that writes one object twice is refused: the second write could only guess the first's version", () => {
  const { store } = new FakeRaft();
  const node = makeNode("n1");
  const entry = encodeTransaction(1_000, [
    { verb: "create", table: "node", object: node, expectedVersion: 0 },
    { verb: "update", table: "node", object: node, expectedVersion: 1 },
  ]);
  const result = store.apply(1, entry);
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.error.message : "", /^invalid node n1: written twice in one transaction$/);
  assert.equal(store.view((tx) => tx.get("node", "n1")), undefined);
});

test("objects read are frozen, and transactions cannot be used after their callback", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => tx.create("node", makeNode("n1", { labels: { b: "2", a: "1" } })));
  const node = store.view((tx) => tx.get("node", "n1"))!;
  assert.throws(() => {
    (node.spec!.annotations!.labels as Record<string, string>).c = "3";
  }, TypeError);
  assert.deepEqual(Object.keys(node.spec!.annotations!.labels), ["a", "b"], "labels are stored in key order");
  const leaked = store.view((tx) => tx);
  assert.throws(() => leaked.get("node", "n1"), /used after its callback returned/);
  let leakedWrite: WriteTx | undefined;
  await store.update((tx) => {
    leakedWrite = tx;
  });
  assert.throws(() => leakedWrite!.delete("node", "n1"), /used after its callback returned/);
});

test("a callback that stages nothing proposes nothing; a proposer's error is passed through unchanged", async () => {
  const raft = new FakeRaft();
  const { store } = raft;
  const nothing = await store.update((tx) => void tx.list("node"));
  assert.deepEqual(nothing.changes, []);
  assert.equal(raft.log.length, 0);
  const notLeader = new Error("not the leader: the leader is manager 2");
  raft.failWith = notLeader;
  await assert.rejects(store.update((tx) => tx.create("node", makeNode("n1"))), (err) => err === notLeader);
});

test("a mistake thrown inside the callback aborts the whole transaction", async () => {
  const raft = new FakeRaft();
  const { store } = raft;
  await rejectsWith(store.update((tx) => {
    tx.create("node", makeNode("n1"));
    tx.delete("node", "missing");
  }), StoreErrorCode.NOT_FOUND, /node missing not found/);
  assert.equal(raft.log.length, 0);
  assert.equal(store.view((tx) => tx.get("node", "n1")), undefined);
});

test("a write transaction's find names a missing index as a read transaction's does", async () => {
  const { store } = new FakeRaft();
  await assert.rejects(store.update((tx) => {
    tx.create("node", makeNode("n1"));
    // @ts-expect-error: nodes have no hostname index
    tx.find("node", "hostname", "n1");
  }), /table node has no index "hostname"/);
});
