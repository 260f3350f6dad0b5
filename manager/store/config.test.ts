import { test } from "node:test";
import assert from "node:assert/strict";
import type { Config } from "../../proto/gen/objects.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import { FakeRaft, makeConfig } from "./testing.ts";

const text = (c: Config | undefined): string => Buffer.from(c?.spec?.data ?? new Uint8Array()).toString();

test("configs: created on every replica with their data, labels and metadata; found by name whatever its case", async () => {
  const raft = new FakeRaft({ replicas: 2, clock: () => 7_000 });
  const data = new Uint8Array(256).map((_, i) => i);
  const committed = await raft.store.update((tx) => {
    tx.create("config", makeConfig("c1", "nginx.conf", "worker_processes 1;\n", { app: "web" }));
    tx.create("config", makeConfig("c2", "Binary", data));
  });
  assert.deepEqual(committed.changes.map((c) => [c.kind, c.table, c.object.id]), [["create", "config", "c1"], ["create", "config", "c2"]]);
  for (const store of raft.stores) {
    store.view((tx) => {
      const c1 = tx.get("config", "c1")!;
      assert.equal(text(c1), "worker_processes 1;\n");
      assert.deepEqual(c1.spec?.annotations, { labels: { app: "web" }, name: "nginx.conf" });
      assert.deepEqual(c1.meta, { version: 1, createdAt: 7_000, updatedAt: 7_000 });
      assert.deepEqual(tx.get("config", "c2")!.spec?.data, data);
      assert.deepEqual(tx.find("config", "name", "NGINX.CONF").map((c) => c.id), ["c1"]);
      assert.deepEqual(tx.find("config", "name", "binary").map((c) => c.id), ["c2"]);
    });
  }
});

test("config names are unique without regard to case, checked when staged and again when applied", async () => {
  const raft = new FakeRaft({ delivery: "async" });
  const { store } = raft;
  await store.update((tx) => tx.create("config", makeConfig("c1", "app")));
  await assert.rejects(store.update((tx) => tx.create("config", makeConfig("c2", "APP"))), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, StoreErrorCode.ALREADY_EXISTS);
    assert.equal(err.message, 'config c2: name "app" is already used by config c1');
    return true;
  });
  // Staged concurrently, neither sees the other: the log's order decides.
  const results = await Promise.allSettled([
    store.update((tx) => tx.create("config", makeConfig("c3", "db"))),
    store.update((tx) => tx.create("config", makeConfig("c4", "DB"))),
  ]);
  assert.equal(raft.maxInFlight, 2);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected"]);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /config c4: name "db" is already used by config c3/);
  // A removed config frees its name.
  await store.update((tx) => tx.delete("config", "c1"));
  await store.update((tx) => tx.create("config", makeConfig("c5", "App")));
  assert.deepEqual(store.view((tx) => tx.find("config", "name", "app").map((c) => c.id)), ["c5"]);
});

test("a config needs a name", async () => {
  const { store } = new FakeRaft();
  await assert.rejects(store.update((tx) => tx.create("config", makeConfig("c1", ""))), /^StoreError: invalid config c1: spec.annotations.name is empty$/);
});

test("configs travel in snapshots: a restored store has the same data, bytes and name index", async () => {
  const { store: source } = new FakeRaft();
  await source.update((tx) => {
    tx.create("config", makeConfig("c1", "one", "1"));
    tx.create("config", makeConfig("c2", "two", new Uint8Array([0, 255, 7])));
  });
  const { store: copy } = new FakeRaft();
  copy.restore(source.appliedIndex, source.snapshot());
  assert.deepEqual(copy.snapshot(), source.snapshot());
  copy.view((tx) => {
    assert.equal(text(tx.get("config", "c1")), "1");
    assert.deepEqual(tx.get("config", "c2")!.spec?.data, new Uint8Array([0, 255, 7]));
    assert.deepEqual(tx.find("config", "name", "TWO").map((c) => c.id), ["c2"]);
  });
  await assert.rejects(copy.update((tx) => tx.create("config", makeConfig("c3", "one"))), /already used by config c1/);
});
