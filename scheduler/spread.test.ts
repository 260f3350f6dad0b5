import { test } from "node:test";
import assert from "node:assert/strict";
import type { Node, PlacementPlan } from "../proto/gen/objects.ts";
import { GiB, makeNode, makeReplicas, makeTask, schedule, tasksPerNode } from "./testing.ts";

/** Tasks of the plan per value of a node label ("" for nodes without it, "pending" for none). */
function perLabel(plan: PlacementPlan, nodes: readonly Node[], label: string): Record<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const out: Record<string, number> = {};
  for (const d of plan.decisions) {
    const value = d.nodeId === "" ? "pending" : byId.get(d.nodeId)!.spec!.annotations!.labels[label] ?? "";
    out[value] = (out[value] ?? 0) + 1;
  }
  return out;
}

const zoned = (id: string, zone: string, rack?: string): Node => makeNode({ id, labels: rack ? { zone, rack } : { zone } });

test("9 replicas over 3 zones of 1, 3 and 5 nodes: 3 per zone, then even within each zone", () => {
  const nodes = [zoned("a1", "a"), zoned("b1", "b"), zoned("b2", "b"), zoned("b3", "b"), ...["c1", "c2", "c3", "c4", "c5"].map((id) => zoned(id, "c"))];
  const plan = schedule(nodes, makeReplicas(9, { serviceId: "web", spread: ["node.labels.zone"] }));
  assert.deepEqual(perLabel(plan, nodes, "zone"), { a: 3, b: 3, c: 3 });
  const perNode = tasksPerNode(plan);
  assert.equal(perNode.get("a1"), 3);
  assert.deepEqual(["b1", "b2", "b3"].map((id) => perNode.get(id)), [1, 1, 1]);
  assert.equal(["c1", "c2", "c3", "c4", "c5"].filter((id) => perNode.get(id) === 1).length, 3);
});

test("two levels: even over zones, then over racks within each zone", () => {
  const nodes = [
    zoned("eu-1", "eu", "r1"), zoned("eu-2", "eu", "r1"), zoned("eu-3", "eu", "r2"),
    zoned("us-1", "us", "r1"), zoned("us-2", "us", "r1"), zoned("us-3", "us", "r1"), zoned("us-4", "us", "r1"),
  ];
  const plan = schedule(nodes, makeReplicas(8, { serviceId: "web", spread: ["node.labels.zone", "node.labels.rack"] }));
  assert.deepEqual(perLabel(plan, nodes, "zone"), { eu: 4, us: 4 });
  const eu = { decisions: plan.decisions.filter((d) => d.nodeId.startsWith("eu")) };
  assert.deepEqual(perLabel(eu, nodes, "rack"), { r1: 2, r2: 2 }, "eu-3 alone is rack r2 and takes half of eu's tasks");
  const single = schedule(nodes, makeReplicas(8, { serviceId: "web", spread: ["node.labels.zone"] }));
  assert.equal(single.decisions.filter((d) => d.nodeId === "eu-3").length, 1, "without the rack level, eu-3 is one node of three");
});

test("nodes without the label form a group of their own", () => {
  const nodes = [zoned("a1", "a"), zoned("a2", "a"), makeNode({ id: "x" })];
  const plan = schedule(nodes, makeReplicas(6, { serviceId: "web", spread: ["node.labels.zone"] }));
  assert.deepEqual(perLabel(plan, nodes, "zone"), { a: 3, "": 3 });
});

test("spread counts the tasks the service already runs: new tasks go where it is thinnest", () => {
  const nodes = [zoned("a1", "a"), zoned("b1", "b"), zoned("c1", "c")];
  const existing = [
    ...[1, 2, 3, 4].map((i) => makeTask({ id: `old-a${i}`, serviceId: "web", nodeId: "a1" })),
    makeTask({ id: "old-b", serviceId: "web", nodeId: "b1" }),
  ];
  const plan = schedule(nodes, makeReplicas(5, { serviceId: "web", spread: ["node.labels.zone"] }), existing);
  assert.deepEqual(perLabel(plan, nodes, "zone"), { b: 2, c: 3 }); // 4/3/3 after the plan
});

test("when a zone is full the rest spills over evenly to the others", () => {
  const nodes = [makeNode({ id: "a1", labels: { zone: "a" }, memory: 1 * GiB }), zoned("b1", "b"), zoned("c1", "c")];
  const plan = schedule(nodes, makeReplicas(7, { serviceId: "web", spread: ["node.labels.zone"], memory: GiB / 2 }));
  assert.deepEqual(perLabel(plan, nodes, "zone"), { a: 2, b: 3, c: 2 });
});

test("spread over engine labels, and ties between values broken in value order", () => {
  const nodes = ["x", "y", "z"].map((id, i) => makeNode({ id, engineLabels: { dc: ["west", "east", "north"][i]! } }));
  const plan = schedule(nodes, makeReplicas(2, { serviceId: "web", spread: ["engine.labels.dc"] }));
  assert.deepEqual(plan.decisions.map((d) => d.nodeId), ["y", "z"]); // east, north; west would be third
});

test("a task with a bad spread descriptor stays pending with the reason", () => {
  const plan = schedule([makeNode({ id: "a" })], makeReplicas(1, { serviceId: "web", spread: ["node.id"] }));
  assert.match(plan.decisions[0]!.explanation, /^invalid placement preference "spread=node.id": spread takes node.labels.<label> or engine.labels.<label>/);
});
