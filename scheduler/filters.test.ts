import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeState } from "../proto/gen/objects.ts";
import { NodeAvailability } from "../proto/gen/specs.ts";
import { TaskState } from "../proto/gen/types.ts";
import { GiB, MiB, makeNode, makeReplicas, makeTask, schedule, tasksPerNode } from "./testing.ts";

const { NODE_STATE_DOWN, NODE_STATE_UNKNOWN, NODE_STATE_DISCONNECTED } = NodeState;

test("ready: nodes that are down, disconnected or unknown take no task", () => {
  const nodes = [
    makeNode({ id: "a", state: NODE_STATE_DOWN }),
    makeNode({ id: "b", state: NODE_STATE_DISCONNECTED }),
    makeNode({ id: "c", state: NODE_STATE_UNKNOWN }),
    makeNode({ id: "d" }),
  ];
  const plan = schedule(nodes, makeReplicas(3, { serviceId: "web" }));
  assert.deepEqual([...tasksPerNode(plan)], [["d", 3]]);
});

test("availability: paused and drained nodes take no new task", () => {
  const nodes = [
    makeNode({ id: "a", availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }),
    makeNode({ id: "b", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }),
    makeNode({ id: "c" }),
  ];
  assert.deepEqual([...tasksPerNode(schedule(nodes, makeReplicas(2, { serviceId: "web" })))], [["c", 2]]);
  const none = schedule(nodes.slice(0, 2), makeReplicas(1, { serviceId: "web" }));
  assert.equal(none.decisions[0]!.explanation, "no suitable node (2 nodes not available for new tasks)");
});

test("resources: memory reservations add up on a node, and the task that does not fit stays pending", () => {
  const nodes = [makeNode({ id: "a", memory: 1 * GiB })];
  const plan = schedule(nodes, makeReplicas(3, { serviceId: "web", memory: 512 * MiB }));
  assert.deepEqual(plan.decisions.map((d) => d.nodeId), ["a", "a", ""]);
  assert.equal(plan.decisions[2]!.explanation, "no suitable node (1 node insufficient memory)");
});

test("resources: CPU reservations are checked in nano CPUs", () => {
  const nodes = [makeNode({ id: "a", cpus: 2 }), makeNode({ id: "b", cpus: 1 })];
  const plan = schedule(nodes, makeReplicas(2, { serviceId: "web", cpus: 1.5 }));
  assert.deepEqual(plan.decisions.map((d) => d.nodeId), ["a", ""]);
  assert.equal(plan.decisions[1]!.explanation, "no suitable node (2 nodes insufficient CPU)");
});

test("resources: tasks running on a node hold their reservations until they stop", () => {
  const nodes = [makeNode({ id: "a", memory: 1 * GiB }), makeNode({ id: "b", memory: 1 * GiB })];
  const existing = [
    makeTask({ id: "old-a", serviceId: "db", nodeId: "a", memory: 768 * MiB }),
    // desired to stop but still running: it still holds its memory
    makeTask({ id: "old-b", serviceId: "db", nodeId: "b", memory: 768 * MiB, desiredState: TaskState.TASK_STATE_SHUTDOWN }),
  ];
  const full = schedule(nodes, makeReplicas(1, { serviceId: "web", memory: 512 * MiB }), existing);
  assert.equal(full.decisions[0]!.explanation, "no suitable node (2 nodes insufficient memory)");
  const stopped = [existing[0]!, makeTask({ id: "old-b", serviceId: "db", nodeId: "b", memory: 768 * MiB, state: TaskState.TASK_STATE_SHUTDOWN })];
  assert.equal(schedule(nodes, makeReplicas(1, { serviceId: "web", memory: 512 * MiB }), stopped).decisions[0]!.nodeId, "b");
});

test("resources: a task placed earlier in the batch reserves for the tasks of other services after it", () => {
  const nodes = [makeNode({ id: "a", memory: 1 * GiB })];
  const batch = [makeTask({ id: "x", serviceId: "x", memory: 600 * MiB }), makeTask({ id: "y", serviceId: "y", memory: 600 * MiB })];
  assert.deepEqual(schedule(nodes, batch).decisions.map((d) => d.nodeId), ["a", ""]);
});

test("constraints: each attribute of Docker's syntax selects the nodes it names", () => {
  const nodes = [
    makeNode({ id: "n1", hostname: "alpha", role: "manager", labels: { zone: "EU" }, engineLabels: { disk: "ssd" }, arch: "x86_64" }),
    makeNode({ id: "n2", hostname: "beta", labels: { zone: "us" }, engineLabels: { disk: "hdd" }, arch: "arm64" }),
    makeNode({ id: "n3", hostname: "gamma", os: "windows", arch: "amd64" }),
  ];
  const cases: [string, string[]][] = [
    ["node.id==n2", ["n2"]],
    ["node.hostname!=alpha", ["n2", "n3"]],
    ["node.role==manager", ["n1"]],
    ["node.role!=manager", ["n2", "n3"]],
    ["node.platform.os==windows", ["n3"]],
    ["node.platform.arch==amd64", ["n1", "n3"]], // n1 reports x86_64, which is amd64
    ["node.labels.zone==eu", ["n1"]], // values compare without regard to case
    ["node.labels.zone!=eu", ["n2", "n3"]], // a node without the label has the value ""
    ["engine.labels.disk==ssd", ["n1"]],
    ["ENGINE.LABELS.disk == hdd", ["n2"]],
    ["node.labels.ZONE==eu", []], // label names are case-sensitive
  ];
  for (const [constraint, expected] of cases) {
    const plan = schedule(nodes, makeReplicas(6, { serviceId: "web", constraints: [constraint] }));
    const used = [...tasksPerNode(plan).keys()].filter((n) => n !== "").sort();
    assert.deepEqual(used, expected, constraint);
  }
});

test("constraints: a node must satisfy all of them", () => {
  const nodes = [
    makeNode({ id: "a", labels: { zone: "eu", disk: "ssd" } }),
    makeNode({ id: "b", labels: { zone: "eu", disk: "hdd" } }),
    makeNode({ id: "c", labels: { zone: "us", disk: "ssd" } }),
  ];
  const plan = schedule(nodes, makeReplicas(3, { serviceId: "web", constraints: ["node.labels.zone==eu", "node.labels.disk==ssd"] }));
  assert.deepEqual([...tasksPerNode(plan)], [["a", 3]]);
});

test("host ports: a port published in host mode is bound at most once per node", () => {
  const nodes = [makeNode({ id: "a" }), makeNode({ id: "b" }), makeNode({ id: "c" })];
  const existing = [makeTask({ id: "old", serviceId: "lb", nodeId: "a", hostPorts: ["80"] })];
  const plan = schedule(nodes, makeReplicas(3, { serviceId: "web", hostPorts: ["80"] }), existing);
  assert.deepEqual(plan.decisions.map((d) => d.nodeId), ["b", "c", ""]);
  assert.equal(plan.decisions[2]!.explanation, "no suitable node (3 nodes host port 80/tcp already in use)");
});

test("host ports: the same number over udp and tcp, and ports of stopped tasks, do not clash", () => {
  const nodes = [makeNode({ id: "a" })];
  const existing = [
    makeTask({ id: "dns", serviceId: "dns", nodeId: "a", hostPorts: ["53/udp"] }),
    makeTask({ id: "gone", serviceId: "web", nodeId: "a", hostPorts: ["53"], state: TaskState.TASK_STATE_FAILED }),
  ];
  const plan = schedule(nodes, [makeTask({ id: "t", serviceId: "web", hostPorts: ["53/tcp"] })], existing);
  assert.equal(plan.decisions[0]!.nodeId, "a");
  const clash = schedule(nodes, [makeTask({ id: "t", serviceId: "web", hostPorts: ["53/UDP"] })], existing);
  assert.equal(clash.decisions[0]!.explanation, "no suitable node (1 node host port 53/udp already in use)");
});

test("max replicas: no node runs more tasks of the service than the limit, counting those already running", () => {
  const nodes = [makeNode({ id: "a" }), makeNode({ id: "b" }), makeNode({ id: "c" })];
  const existing = [makeTask({ id: "old", serviceId: "web", nodeId: "a" })];
  const plan = schedule(nodes, makeReplicas(4, { serviceId: "web", maxReplicas: 2 }), existing);
  assert.deepEqual(new Map(tasksPerNode(plan)), new Map([["b", 2], ["c", 1], ["a", 1]]));
  const over = schedule(nodes, makeReplicas(6, { serviceId: "web", maxReplicas: 2 }), existing);
  assert.equal(over.decisions[5]!.explanation, "no suitable node (3 nodes already running 2 tasks of this service (max replicas per node))");
});

test("platform: tasks go only to nodes whose platform the image exists for", () => {
  const nodes = [
    makeNode({ id: "amd", arch: "amd64" }),
    makeNode({ id: "arm", arch: "aarch64" }),
    makeNode({ id: "win", os: "windows", arch: "arm64" }),
  ];
  const plan = schedule(nodes, makeReplicas(4, { serviceId: "web", platforms: ["linux/arm64"] }));
  assert.deepEqual([...tasksPerNode(plan)], [["arm", 4]]);
  const any = schedule(nodes, makeReplicas(3, { serviceId: "web", platforms: ["linux/amd64", "windows/"] }));
  assert.deepEqual([...tasksPerNode(any).keys()].sort(), ["amd", "win"]);
  const none = schedule(nodes.slice(0, 1), makeReplicas(1, { serviceId: "web", platforms: ["linux/s390x"] }));
  assert.equal(none.decisions[0]!.explanation, "no suitable node (1 node did not match the image platform linux/s390x)");
});

test("platform: a node that reports no platform is not turned away", () => {
  const node = makeNode({ id: "a" });
  node.description!.platform = undefined;
  assert.equal(schedule([node], makeReplicas(1, { serviceId: "web", platforms: ["linux/arm64"] })).decisions[0]!.nodeId, "a");
});

test("a task pinned to a node (global service) goes there only if that node passes every filter", () => {
  const nodes = [makeNode({ id: "a", memory: 1 * GiB }), makeNode({ id: "b", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })];
  const batch = [
    makeTask({ id: "on-a", serviceId: "agent", nodeId: "a", state: TaskState.TASK_STATE_PENDING, memory: 512 * MiB }),
    makeTask({ id: "on-a-too", serviceId: "agent", specVersion: 2, nodeId: "a", state: TaskState.TASK_STATE_PENDING, memory: 768 * MiB }),
    makeTask({ id: "on-b", serviceId: "agent", nodeId: "b", state: TaskState.TASK_STATE_PENDING }),
    makeTask({ id: "on-gone", serviceId: "agent", nodeId: "gone", state: TaskState.TASK_STATE_PENDING }),
  ];
  const plan = schedule(nodes, batch);
  assert.deepEqual(plan.decisions.map((d) => [d.taskId, d.nodeId, d.explanation]), [
    ["on-a", "a", ""],
    ["on-a-too", "", "no suitable node (1 node insufficient memory)"],
    ["on-b", "", "no suitable node (1 node not available for new tasks)"],
    ["on-gone", "", "no suitable node (1 node not in the cluster)"],
  ]);
});
