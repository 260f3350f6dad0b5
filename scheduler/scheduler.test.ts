import { test } from "node:test";
import assert from "node:assert/strict";
import { PlacementPlanCodec } from "../proto/gen/objects.ts";
import { ClusterSnapshot, placeTasks } from "./index.ts";
import { GiB, MiB, makeNode, makeReplicas, makeTask, schedule, tasksPerNode } from "./testing.ts";

const nodes = Array.from({ length: 12 }, (_, i) =>
  makeNode({ id: `n${String(i).padStart(2, "0")}`, labels: { zone: `z${i % 3}`, rack: `r${i % 2}` }, memory: (2 + (i % 4)) * GiB }));
const existing = nodes.flatMap((n, i) => Array.from({ length: i % 4 }, (_, k) => makeTask({ id: `${n.id}-old${k}`, serviceId: `old${k}`, nodeId: n.id, memory: 256 * MiB })));
const batch = [
  ...makeReplicas(20, { serviceId: "web", spread: ["node.labels.zone", "node.labels.rack"], memory: 300 * MiB }),
  ...makeReplicas(10, { serviceId: "api", constraints: ["node.labels.zone!=z1"], hostPorts: ["443"] }),
  ...makeReplicas(5, { serviceId: "web", specVersion: 2, spread: ["node.labels.zone"], memory: 200 * MiB }),
];

test("the same snapshot and batch give the same plan, whatever order nodes and tasks came in", () => {
  const first = schedule(nodes, batch, existing);
  assert.deepEqual(schedule(nodes, batch, existing), first);
  assert.deepEqual(schedule([...nodes].reverse(), batch, [...existing].reverse()), first);
});

test("placing does not change the snapshot: a second plan over it is the same", () => {
  const snapshot = new ClusterSnapshot({ nodes, tasks: existing, now: 0 });
  const before = [snapshot.freeMemory.slice(), snapshot.taskCount.slice(), new Map(snapshot.serviceTasks.get("old1"))];
  const plan = placeTasks(snapshot, batch);
  assert.deepEqual([snapshot.freeMemory, snapshot.taskCount, snapshot.serviceTasks.get("old1")], before);
  assert.equal(snapshot.serviceTasks.get("web"), undefined);
  assert.deepEqual(placeTasks(snapshot, batch), plan);
});

test("the plan has one decision per task, in batch order, and survives the wire", () => {
  const plan = schedule(nodes, batch, existing);
  assert.deepEqual(plan.decisions.map((d) => d.taskId), batch.map((t) => t.id));
  assert.deepEqual(PlacementPlanCodec.decode(PlacementPlanCodec.encode(plan)), plan);
});

test("tasks of two spec versions of one service are placed by their own spec but spread together", () => {
  const two = [makeNode({ id: "a", labels: { zone: "a" } }), makeNode({ id: "b", labels: { zone: "b" }, memory: 16 * GiB })];
  const rolling = [
    ...makeReplicas(3, { serviceId: "web", spread: ["node.labels.zone"] }),
    ...makeReplicas(3, { serviceId: "web", specVersion: 2, spread: ["node.labels.zone"] }).map((t) => ({ ...t, id: `${t.id}-v2` })),
  ];
  // version 1 goes 2/1; version 2 then evens the service out to 3/3
  assert.deepEqual(new Map(tasksPerNode(schedule(two, rolling))), new Map([["a", 3], ["b", 3]]));
  const big = makeReplicas(1, { serviceId: "web", specVersion: 3, memory: 12 * GiB }).map((t) => ({ ...t, id: "big" }));
  assert.equal(schedule(two, [...rolling, ...big]).decisions[6]!.nodeId, "b", "version 3 needs memory only b has");
});
