import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeAvailability } from "../../proto/gen/specs.ts";
import { seededRandom } from "../raft/random.ts";
import { StoreError, StoreErrorCode } from "./errors.ts";
import type { MemoryStore } from "./memory-store.ts";
import { FakeRaft, makeCluster, makeNode } from "./testing.ts";

const AVAILABILITIES = Object.values(NodeAvailability);

/** One random write through `store`: creates, updates and deletes over a few ids and names, so they collide. */
function randomWrite(store: MemoryStore, random: () => number): Promise<unknown> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const id = pick(["n1", "n2", "n3", "n4"]);
  const choice = random();
  return store.update((tx) => {
    if (choice < 0.2) {
      tx.create("node", makeNode(`${id}-${Math.floor(random() * 3)}`));
    } else if (choice < 0.3) {
      tx.create("cluster", makeCluster(`c${Math.floor(random() * 1000)}`, pick(["default", "prod", "test"])));
    } else {
      const node = tx.find("node", "name", `${id}-${Math.floor(random() * 3)}`)[0];
      if (!node) return;
      if (choice < 0.4) tx.delete("node", node.id);
      else tx.update("node", { ...node, spec: { ...node.spec!, availability: pick(AVAILABILITIES), annotations: { name: "", labels: { w: String(random()) } } } });
    }
  });
}

test("replicas fed the same entries reach the same bytes, refused transactions included", async () => {
  const random = seededRandom(7);
  const raft = new FakeRaft({ replicas: 3, delivery: "async", random });
  const outcomes = new Map<string, number>();
  for (let round = 0; round < 30; round++) {
    // Sixteen writers in flight at once, through all three replicas, committed in a shuffled order.
    const writes = Array.from({ length: 16 }, (_, i) => randomWrite(raft.stores[i % 3]!, random));
    for (const r of await Promise.allSettled(writes)) {
      const key = r.status === "fulfilled" ? "ok" : r.reason instanceof StoreError ? r.reason.code : String(r.reason);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
  }
  // The workload must exercise every way a transaction is refused when applied, or it proves little.
  for (const code of ["ok", StoreErrorCode.CONFLICT, StoreErrorCode.ALREADY_EXISTS, StoreErrorCode.NOT_FOUND]) {
    assert.ok((outcomes.get(code) ?? 0) > 0, `no ${code} outcome in ${JSON.stringify([...outcomes])}`);
  }
  assert.ok(raft.maxInFlight >= 10, "writers were in flight together");
  const [first, ...others] = raft.stores.map((s) => s.snapshot());
  for (const other of others) assert.deepEqual(other, first);
  assert.ok(raft.stores.every((s) => s.appliedIndex === raft.log.length));
  assert.ok(raft.store.view((tx) => tx.list("node").length) > 0);

  // A manager that catches up from a snapshot taken part-way, then the rest of the log, agrees too.
  const half = Math.floor(raft.log.length / 2);
  const early = new FakeRaft().store;
  raft.log.slice(0, half).forEach((entry, i) => early.apply(i + 1, entry));
  const late = new FakeRaft().store;
  late.restore(half, early.snapshot());
  raft.log.slice(half).forEach((entry, i) => late.apply(half + i + 1, entry));
  assert.deepEqual(late.snapshot(), first);
});

test("every replica returns the same result for each entry, including the same refusal", async () => {
  const raft = new FakeRaft({ replicas: 2, delivery: "manual" });
  const [a, b] = raft.stores as [MemoryStore, MemoryStore];
  const created = a.update((tx) => tx.create("cluster", makeCluster("c1", "default")));
  raft.commit();
  await created;
  const rename = (store: MemoryStore, name: string) =>
    store.update((tx) => tx.update("cluster", { ...tx.get("cluster", "c1")!, spec: { annotations: { name, labels: {} } } }));
  const fromA = rename(a, "a");
  const fromB = rename(b, "b");
  raft.commit();
  await fromA;
  await assert.rejects(fromB, /update out of sequence: cluster c1 has version 2, the update was made from version 1/);

  const summarize = (store: MemoryStore) =>
    raft.log.map((entry, i) => {
      const r = store.apply(i + 1, entry);
      return r.ok ? `ok ${r.committed.changes.map((c) => c.object.meta?.version).join(",")}` : `${r.error.code}: ${r.error.message}`;
    });
  const results = [new FakeRaft().store, new FakeRaft().store].map(summarize);
  assert.deepEqual(results[0], ["ok 1", "ok 2", "CONFLICT: update out of sequence: cluster c1 has version 2, the update was made from version 1"]);
  assert.deepEqual(results[1], results[0]);
  for (const s of raft.stores) assert.equal(s.view((tx) => tx.get("cluster", "c1")!.spec?.annotations?.name), "a");
});
