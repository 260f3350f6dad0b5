import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeRole } from "../../proto/gen/specs.ts";
import { StoreSnapshotCodec } from "../../proto/gen/store.ts";
import { StoreErrorCode } from "./errors.ts";
import type { MemoryStore } from "./memory-store.ts";
import { canonical } from "./canonical.ts";
import { encodeSnapshot, encodeSnapshotInSlices } from "./snapshot.ts";
import { Slices } from "./sort-in-slices.ts";
import { Tables } from "./table.ts";
import { FakeRaft, makeCluster, makeNode } from "./testing.ts";
import { TABLE_NAMES } from "./tables.ts";
import { packObject } from "./wire.ts";

function everything(store: MemoryStore): unknown {
  return store.view((tx) => ({
    nodes: tx.list("node").sort((a, b) => a.id.localeCompare(b.id)),
    clusters: tx.list("cluster"),
  }));
}

test("a snapshot restored elsewhere gives the same objects, indexes and bytes, and later writes check versions", async () => {
  const { store: source } = new FakeRaft();
  await source.update((tx) => {
    tx.create("cluster", makeCluster("c1", "default"));
    tx.create("node", makeNode("m1", { hostname: "alpha", role: NodeRole.NODE_ROLE_MANAGER, raftId: 1, labels: { zone: "eu" } }));
    tx.create("node", makeNode("w1", { hostname: "beta" }));
  });
  await source.update((tx) => tx.update("node", { ...tx.get("node", "w1")!, role: NodeRole.NODE_ROLE_MANAGER }));
  const bytes = source.snapshot();

  const { store: copy } = new FakeRaft();
  copy.restore(source.appliedIndex, bytes);
  assert.deepEqual(everything(copy), everything(source));
  assert.deepEqual(copy.snapshot(), bytes);
  assert.equal(copy.appliedIndex, 2);
  copy.view((tx) => {
    assert.deepEqual(tx.find("node", "name", "ALPHA").map((n) => n.id), ["m1"]);
    assert.deepEqual(tx.find("node", "role", NodeRole.NODE_ROLE_MANAGER).map((n) => n.id).sort(), ["m1", "w1"]);
    assert.deepEqual(tx.find("node", "raftId", 1).map((n) => n.id), ["m1"]);
    assert.deepEqual(tx.find("cluster", "name", "default").map((c) => c.id), ["c1"]);
  });
  // The restored store enforces what the original did: versions and unique names.
  const stale = { ...copy.view((tx) => tx.get("node", "w1"))!, meta: { version: 1, createdAt: 0, updatedAt: 0 } };
  await assert.rejects(copy.update((tx) => tx.update("node", stale)), /node w1 has version 2, the update was made from version 1/);
  await assert.rejects(copy.update((tx) => tx.create("cluster", makeCluster("c2", "default"))), /already used by cluster c1/);
});

test("equal states give equal bytes whatever order objects and labels were written in", async () => {
  const clock = () => 42;
  const a = new FakeRaft({ clock }).store;
  const b = new FakeRaft({ clock }).store;
  await a.update((tx) => {
    tx.create("node", makeNode("n1", { labels: { a: "1", b: "2", c: "3" } }));
    tx.create("node", makeNode("n2"));
    tx.create("cluster", makeCluster("c1"));
  });
  await b.update((tx) => {
    tx.create("cluster", makeCluster("c1"));
    tx.create("node", makeNode("n2"));
    tx.create("node", makeNode("n1", { labels: { c: "3", a: "1", b: "2" } }));
  });
  assert.deepEqual(a.snapshot(), b.snapshot());
  await b.update((tx) => tx.delete("node", "n2"));
  assert.notDeepEqual(a.snapshot(), b.snapshot(), "different states give different bytes");
});

test("restore replaces everything: objects and index entries absent from the snapshot are gone", async () => {
  const { store: source } = new FakeRaft();
  await source.update((tx) => tx.create("node", makeNode("n1", { hostname: "kept" })));
  const { store } = new FakeRaft();
  await store.update((tx) => {
    tx.create("node", makeNode("old", { hostname: "stale", role: NodeRole.NODE_ROLE_MANAGER, raftId: 5 }));
    tx.create("cluster", makeCluster("c9", "default"));
  });
  store.restore(1, source.snapshot());
  store.view((tx) => {
    assert.deepEqual(tx.list("node").map((n) => n.id), ["n1"]);
    assert.deepEqual(tx.list("cluster"), []);
    assert.deepEqual(tx.find("node", "name", "stale"), []);
    assert.deepEqual(tx.find("node", "raftId", 5), []);
    assert.deepEqual(tx.find("node", "role", NodeRole.NODE_ROLE_MANAGER), []);
  });
  // The name "default" is free again.
  await store.update((tx) => tx.create("cluster", makeCluster("c1", "default")));

  const { store: empty } = new FakeRaft();
  store.restore(7, empty.snapshot());
  assert.deepEqual(everything(store), { nodes: [], clusters: [] });
  assert.equal(store.appliedIndex, 7);
});

test("a malformed snapshot is refused with an error that says so, and the state is kept", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  assert.throws(() => store.restore(9, new Uint8Array([0x0a, 0xff, 0xff])), /^Error: invalid store snapshot/);
  assert.equal(store.view((tx) => tx.list("node").length), 1);
  assert.equal(store.appliedIndex, 1);
  // An object of no table: an empty StoreObject.
  assert.throws(() => store.restore(9, new Uint8Array([0x0a, 0x00])), (err: Error) => {
    assert.match(err.message, /invalid store snapshot: a stored object must be exactly one of cluster, config, node; got none/);
    assert.equal((err.cause as { code?: string }).code, StoreErrorCode.INVALID);
    return true;
  });
});

test("a snapshot is the standard protobuf encoding of every object, tables and ids in order, and follows each write", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => {
    tx.create("cluster", makeCluster("c1", "default"));
    for (let i = 0; i < 50; i++) tx.create("node", makeNode(`n${i}`, { hostname: `host-${i}`, labels: { big: "x".repeat(i * 7) } }));
  });
  const first = store.snapshot();
  const standard = store.view((tx) => StoreSnapshotCodec.encode({
    objects: TABLE_NAMES.flatMap((table) => [...tx.list(table)]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((object) => packObject(table, object))),
  }));
  assert.deepEqual(Buffer.from(first), Buffer.from(standard));
  // After a write, the snapshot follows the new object, not an encoding of the old one.
  await store.update((tx) => tx.update("node", { ...tx.get("node", "n3")!, role: NodeRole.NODE_ROLE_MANAGER }));
  const second = store.snapshot();
  assert.notDeepEqual(second, first);
  const decoded = StoreSnapshotCodec.decode(second).objects.find((o) => o.node?.id === "n3");
  assert.equal(decoded?.node?.role, NodeRole.NODE_ROLE_MANAGER);
});

test("a snapshot encoded in slices is the state when it was asked for, whatever is written and deleted meanwhile", async () => {
  const { store } = new FakeRaft();
  const ids = Array.from({ length: 5_000 }, (_, i) => `n${String(i).padStart(5, "0")}`);
  // Created in reverse order, deleted and re-created: the order of ids must come out right anyway.
  for (let i = 0; i < ids.length; i += 500) {
    await store.update((tx) => {
      for (const id of ids.slice(i, i + 500).reverse()) tx.create("node", makeNode(id));
    });
  }
  await store.update((tx) => tx.delete("node", "n00007"));
  store.snapshot(); // a snapshot taken before: the writes after must still show
  await store.update((tx) => tx.create("node", makeNode("n00007")));
  await store.update((tx) => tx.delete("node", "n04000"));
  const expected = store.snapshot();
  const sliced = store.snapshotInSlices();
  // Writes while the slices are encoded: new objects, a deleted one, a changed one.
  await store.update((tx) => {
    tx.create("node", makeNode("n99999"));
    tx.delete("node", "n00001");
    tx.update("node", { ...tx.get("node", "n02500")!, role: NodeRole.NODE_ROLE_MANAGER });
  });
  const bytes = await sliced;
  assert.deepEqual(Buffer.from(bytes), Buffer.from(expected));
  const ids0 = StoreSnapshotCodec.decode(bytes).objects.map((o) => o.node!.id);
  assert.deepEqual(ids0, ids.filter((id) => id !== "n04000"), "every node, in id order, as of the request");
  assert.notDeepEqual(store.snapshot(), expected, "the writes did land, after the snapshot's moment");

  // With a prefix (the Raft node's framing), the same bytes come after it in one buffer.
  const now = store.snapshot();
  const framed = await store.snapshotInSlices((length) => new Uint8Array([7, length & 0xff, 9]));
  assert.deepEqual([...framed.subarray(0, 3)], [7, now.byteLength & 0xff, 9]);
  assert.deepEqual(Buffer.from(framed.subarray(3)), Buffer.from(now));
});

test("a snapshot cut into many slices is the same bytes as one encoded at once", async () => {
  const tables = new Tables();
  tables.put("cluster", canonical(makeCluster("c1", "default")));
  for (let i = 0; i < 3_000; i++) tables.put("node", canonical(makeNode(`n${i}`, { hostname: `host-${i}`, labels: { size: "x".repeat(i % 300) } })));
  // A clock that moves a millisecond per reading: a slice ends every other reading (128 objects).
  let now = 0;
  const slices = new Slices(() => now++);
  const sliced = await encodeSnapshotInSlices(tables, undefined, slices);
  assert.ok(slices.pauses > 20, `${slices.pauses} pauses: the objects were encoded in many slices`);
  assert.deepEqual(Buffer.from(sliced), Buffer.from(encodeSnapshot(tables)));
});
