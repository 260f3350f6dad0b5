import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeRole } from "../../proto/gen/specs.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import type { StoreEvent } from "./events.ts";
import type { TableName } from "./tables.ts";
import { FakeRaft, makeCluster, makeNode } from "./testing.ts";
import type { Subscription } from "./watch.ts";

/** Takes the next `n` events, as short strings: "create node n1", "commit 3". */
async function take<N extends TableName>(sub: Subscription<N>, n: number): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const { done, value } = await sub.next();
    if (done) break;
    out.push(describe(value));
  }
  return out;
}

function describe<N extends TableName>(e: StoreEvent<N>): string {
  return e.kind === "commit" || e.kind === "restored" ? `${e.kind} ${e.index}` : `${e.kind} ${e.table} ${e.object.id}`;
}

test("a watcher receives every change in commit order, each transaction ended by a commit marker", async () => {
  const { store } = new FakeRaft({ delivery: "async" });
  const sub = store.watch();
  await Promise.all([
    store.update((tx) => {
      tx.create("node", makeNode("n1"));
      tx.create("cluster", makeCluster("c1"));
    }),
    store.update((tx) => tx.create("node", makeNode("n2"))),
  ]);
  await store.update((tx) => {
    const n1 = tx.get("node", "n1")!;
    tx.update("node", { ...n1, role: NodeRole.NODE_ROLE_MANAGER });
    tx.delete("node", "n2");
  });
  assert.deepEqual(await take(sub, 8), [
    "create node n1", "create cluster c1", "commit 1",
    "create node n2", "commit 2",
    "update node n1", "delete node n2", "commit 3",
  ]);
  sub.close();
});

test("update events carry the object before and after; the store's objects are the ones handed out", async () => {
  const { store } = new FakeRaft();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  const sub = store.watch();
  await store.update((tx) => tx.update("node", { ...tx.get("node", "n1")!, role: NodeRole.NODE_ROLE_MANAGER }));
  const { value } = await sub.next();
  assert.ok(value && value.kind === "update" && value.table === "node");
  assert.equal(value.old.role, NodeRole.NODE_ROLE_WORKER);
  assert.equal(value.object.role, NodeRole.NODE_ROLE_MANAGER);
  assert.equal(value.object, store.view((tx) => tx.get("node", "n1")));
  sub.close();
});

test("a filter narrows a watcher to some tables or some changes, and commit markers follow only what it let through", async () => {
  const { store } = new FakeRaft();
  const clusters = store.watch({ tables: ["cluster"] });
  const managers = store.watch({ tables: ["node"], where: (c) => c.object.role === NodeRole.NODE_ROLE_MANAGER });
  await store.update((tx) => tx.create("node", makeNode("w1")));
  await store.update((tx) => tx.create("node", makeNode("m1", { role: NodeRole.NODE_ROLE_MANAGER })));
  await store.update((tx) => tx.create("cluster", makeCluster("c1")));
  assert.deepEqual(await take(clusters, 2), ["create cluster c1", "commit 3"]);
  assert.deepEqual(await take(managers, 2), ["create node m1", "commit 2"]);
  clusters.close();
  managers.close();
});

test("viewAndWatch: what the read saw is never also an event, and nothing applied after it is missed", async () => {
  const raft = new FakeRaft({ delivery: "manual" });
  const { store } = raft;
  const ids = Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, "0")}`);
  const writers = ids.map((id) => store.update((tx) => tx.create("node", makeNode(id))));
  raft.commit(10);
  // Read and subscribe while the other ten are still in flight.
  const { result: seen, subscription } = store.viewAndWatch((tx) => tx.list("node").map((n) => n.id));
  assert.equal(seen.length, 10);
  raft.commit();
  await Promise.all(writers);
  const events = await take(subscription, 20);
  assert.equal(events.filter((e) => e.startsWith("commit")).length, 10);
  const created = events.filter((e) => e.startsWith("create")).map((e) => e.split(" ")[2]!);
  assert.deepEqual([...seen, ...created].sort(), ids);
  subscription.close();
});

test("a watcher that falls too far behind is closed with SLOW_WATCHER instead of queueing forever", async () => {
  const { store } = new FakeRaft({ watchQueueLimit: 10 });
  const slow = store.watch();
  const keptUp = store.watch();
  for (let i = 0; i < 8; i++) {
    await store.update((tx) => tx.create("node", makeNode(`n${i}`)));
    assert.equal((await take(keptUp, 2)).length, 2);
  }
  // slow has not read: 16 events were due, its bound is 10.
  await assert.rejects(slow.next(), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, StoreErrorCode.SLOW_WATCHER);
    assert.match(err.message, /fell more than 10 events behind/);
    return true;
  });
  assert.deepEqual(await slow.next(), { done: true, value: undefined });
  keptUp.close();
});

test("a consumer waiting when its watcher is closed for falling behind gets the error", async () => {
  const { store } = new FakeRaft({ watchQueueLimit: 1 });
  const sub = store.watch();
  const waiting = sub.next();
  await store.update((tx) => {
    tx.create("node", makeNode("n1"));
    tx.create("node", makeNode("n2"));
  });
  // One event went to the waiting consumer; the other and the marker would exceed the bound of 1.
  await assert.rejects(waiting, (err: unknown) => err instanceof StoreError && err.code === StoreErrorCode.SLOW_WATCHER);
  assert.deepEqual(await sub.next(), { done: true, value: undefined });
});

test("close() ends a subscription: a waiting for-await loop finishes, and it receives nothing more", async () => {
  const { store } = new FakeRaft();
  const sub = store.watch();
  const seen: string[] = [];
  const loop = (async () => {
    for await (const e of sub) seen.push(describe(e));
  })();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  await new Promise((r) => setImmediate(r));
  sub.close();
  await loop;
  await store.update((tx) => tx.create("node", makeNode("n2")));
  assert.deepEqual(seen, ["create node n1", "commit 1"]);
  assert.deepEqual(await sub.next(), { done: true, value: undefined });
});

test("leaving a for-await loop closes the subscription", async () => {
  const { store } = new FakeRaft({ watchQueueLimit: 3 });
  const sub = store.watch();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  for await (const e of sub) {
    assert.equal(describe(e), "create node n1");
    break;
  }
  // Closed, so it no longer queues: these would overflow a queue of 3 and fail it if it did.
  for (let i = 2; i < 6; i++) await store.update((tx) => tx.create("node", makeNode(`n${i}`)));
  assert.deepEqual(await sub.next(), { done: true, value: undefined });
});

test("a watch filter that throws closes that watcher, not the store", async () => {
  const { store } = new FakeRaft();
  const broken = store.watch({ where: () => { throw new Error("boom"); } });
  const fine = store.watch();
  await store.update((tx) => tx.create("node", makeNode("n1")));
  await assert.rejects(broken.next(), /watch filter threw: boom/);
  assert.deepEqual(await take(fine, 2), ["create node n1", "commit 1"]);
  fine.close();
});

test("a restore tells watchers what changed, then marks the restore", async () => {
  const source = new FakeRaft();
  await source.store.update((tx) => {
    tx.create("node", makeNode("keep"));
    tx.create("node", makeNode("changed"));
    tx.create("node", makeNode("added"));
  });
  await source.store.update((tx) => tx.update("node", { ...tx.get("node", "changed")!, role: NodeRole.NODE_ROLE_MANAGER }));

  const { store } = new FakeRaft();
  await store.update((tx) => {
    tx.create("node", makeNode("keep"));
    tx.create("node", makeNode("changed"));
    tx.create("node", makeNode("gone"));
  });
  const sub = store.watch();
  store.restore(2, source.store.snapshot());
  assert.deepEqual(await take(sub, 4), ["delete node gone", "create node added", "update node changed", "restored 2"]);
  assert.equal(store.appliedIndex, 2);
  sub.close();
});
