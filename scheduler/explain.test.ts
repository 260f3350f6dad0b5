import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeAvailability } from "../proto/gen/specs.ts";
import { NodeState } from "../proto/gen/objects.ts";
import { GiB, MiB, makeNode, makeReplicas, schedule, tasksPerNode } from "./testing.ts";

const { NODE_AVAILABILITY_DRAIN, NODE_AVAILABILITY_PAUSE } = NodeAvailability;

test("the explanation counts every node under the first filter that rejects it, in Docker's words", () => {
  const nodes = [
    makeNode({ id: "d1", availability: NODE_AVAILABILITY_DRAIN, labels: { zone: "eu" } }),
    makeNode({ id: "d2", availability: NODE_AVAILABILITY_PAUSE, memory: 1 * GiB }),
    makeNode({ id: "m1", memory: 1 * GiB, labels: { zone: "eu" } }),
    makeNode({ id: "m2", memory: 1 * GiB }),
    makeNode({ id: "m3", memory: 1 * GiB }),
    makeNode({ id: "us", memory: 8 * GiB, labels: { zone: "us" } }),
  ];
  const plan = schedule(nodes, makeReplicas(2, { serviceId: "web", memory: 2 * GiB, constraints: ["node.labels.zone==eu"] }));
  for (const d of plan.decisions) {
    assert.equal(d.nodeId, "");
    assert.equal(d.explanation, "no suitable node (2 nodes not available for new tasks; 3 nodes insufficient memory; 1 node did not satisfy constraint node.labels.zone==eu)");
    assert.deepEqual(d.rejections, [
      { reason: "not available for new tasks", nodes: 2 },
      { reason: "insufficient memory", nodes: 3 },
      { reason: "did not satisfy constraint node.labels.zone==eu", nodes: 1 },
    ]);
  }
});

test("each constraint is its own reason, in the order the nodes met them", () => {
  const nodes = [
    makeNode({ id: "a", labels: { zone: "us", disk: "ssd" } }),
    makeNode({ id: "b", labels: { zone: "eu", disk: "hdd" } }),
    makeNode({ id: "c", labels: { zone: "us" }, state: NodeState.NODE_STATE_DOWN }),
  ];
  const plan = schedule(nodes, makeReplicas(1, { serviceId: "web", constraints: ["node.labels.zone==eu", "node.labels.disk==ssd"] }));
  assert.equal(plan.decisions[0]!.explanation,
    "no suitable node (1 node not ready; 1 node did not satisfy constraint node.labels.zone==eu; 1 node did not satisfy constraint node.labels.disk==ssd)");
});

test("when a batch fits only in part, the tasks that fit are placed and the rest say why they did not", () => {
  const nodes = [makeNode({ id: "a", memory: 1 * GiB, cpus: 1 }), makeNode({ id: "b", memory: 4 * GiB, cpus: 1 })];
  const plan = schedule(nodes, makeReplicas(7, { serviceId: "web", memory: 512 * MiB, cpus: 0.25 }));
  assert.deepEqual(new Map(tasksPerNode(plan)), new Map([["a", 2], ["b", 4], ["", 1]]));
  for (const d of plan.decisions) {
    const expected = d.nodeId === "" ? "no suitable node (1 node insufficient memory; 1 node insufficient CPU)" : "";
    assert.equal(d.explanation, expected);
  }
});

test("a cluster without nodes says so", () => {
  assert.equal(schedule([], makeReplicas(1, { serviceId: "web" })).decisions[0]!.explanation, "no suitable node (the cluster has no nodes)");
});
