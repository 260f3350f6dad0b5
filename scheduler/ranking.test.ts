import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskState } from "../proto/gen/types.ts";
import { MAX_RECENT_FAILURES, RECENT_FAILURE_WINDOW_MS } from "./index.ts";
import { makeNode, makeReplicas, makeTask, schedule, tasksPerNode } from "./testing.ts";
import type { TaskOptions } from "./testing.ts";

const NOW = 10 * RECENT_FAILURE_WINDOW_MS;
const nodes = [makeNode({ id: "a" }), makeNode({ id: "b" })];

function running(node: string, count: number, o: Omit<TaskOptions, "id" | "nodeId">): ReturnType<typeof makeTask>[] {
  return Array.from({ length: count }, (_, i) => makeTask({ ...o, id: `${o.serviceId}@${node}.${i}`, nodeId: node }));
}

test("a service spreads over nodes before it fills the emptiest one", () => {
  // b is empty, a runs five tasks of other services: "fewest tasks overall" alone would stack web on b
  const plan = schedule(nodes, makeReplicas(4, { serviceId: "web" }), running("a", 5, { serviceId: "db" }));
  assert.deepEqual(new Map(tasksPerNode(plan)), new Map([["a", 2], ["b", 2]]));
});

test("a service's running tasks count: the new one goes where the service has fewest", () => {
  const existing = [...running("a", 2, { serviceId: "web" }), ...running("b", 1, { serviceId: "web" }), ...running("b", 5, { serviceId: "db" })];
  assert.equal(schedule(nodes, makeReplicas(1, { serviceId: "web" }), existing).decisions[0]!.nodeId, "b");
});

test("between nodes with as many tasks of the service, the one with fewest tasks overall wins", () => {
  const existing = [...running("a", 1, { serviceId: "db" }), ...running("b", 3, { serviceId: "db" })];
  assert.equal(schedule(nodes, makeReplicas(1, { serviceId: "web" }), existing).decisions[0]!.nodeId, "a");
});

test("tasks that are desired to stop do not count towards ranking", () => {
  const existing = running("a", 3, { serviceId: "web", desiredState: TaskState.TASK_STATE_SHUTDOWN });
  assert.equal(schedule(nodes, makeReplicas(1, { serviceId: "web" }), [...existing, ...running("b", 1, { serviceId: "db" })]).decisions[0]!.nodeId, "a");
});

test(`a node where the service failed ${MAX_RECENT_FAILURES} times recently is avoided, even if it runs fewer of its tasks`, () => {
  const failed = (count: number, at: number, serviceId = "web"): ReturnType<typeof makeTask>[] =>
    running("a", count, { serviceId, state: TaskState.TASK_STATE_FAILED, timestamp: at, desiredState: TaskState.TASK_STATE_SHUTDOWN });
  const busyB = running("b", 3, { serviceId: "web" });
  const place = (history: ReturnType<typeof makeTask>[]): string => schedule(nodes, makeReplicas(1, { serviceId: "web" }), [...history, ...busyB], NOW).decisions[0]!.nodeId;
  assert.equal(place(failed(MAX_RECENT_FAILURES, NOW - 60_000)), "b");
  assert.equal(place(running("a", MAX_RECENT_FAILURES, { serviceId: "web", state: TaskState.TASK_STATE_REJECTED, timestamp: NOW - 1 })), "b");
  assert.equal(place(failed(MAX_RECENT_FAILURES - 1, NOW - 60_000)), "a", "a few failures are not enough");
  assert.equal(place(failed(MAX_RECENT_FAILURES, NOW - RECENT_FAILURE_WINDOW_MS - 1)), "a", "old failures are forgotten");
  assert.equal(place(failed(MAX_RECENT_FAILURES, NOW - 60_000, "db")), "a", "another service's failures do not count");
});

test("a node that keeps failing is still used when it is the only one that fits", () => {
  const history = running("a", MAX_RECENT_FAILURES, { serviceId: "web", state: TaskState.TASK_STATE_FAILED, timestamp: NOW });
  assert.equal(schedule(nodes.slice(0, 1), makeReplicas(1, { serviceId: "web" }), history, NOW).decisions[0]!.nodeId, "a");
});

test("equal nodes are chosen in id order, whatever order the snapshot lists them in", () => {
  const many = ["n3", "n1", "n2"].map((id) => makeNode({ id }));
  const plan = schedule(many, makeReplicas(4, { serviceId: "web" }));
  assert.deepEqual(plan.decisions.map((d) => d.nodeId), ["n1", "n2", "n3", "n1"]);
});
