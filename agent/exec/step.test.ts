// The task state machine against a scripted controller: one state forward per call, rejections
// before STARTING, failures after, shutdown when the desired state says so.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Task } from "../../proto/gen/objects.ts";
import { HealthState, TaskState } from "../../proto/gen/types.ts";
import { ContainerStatus } from "./contract.ts";
import type { Controller, ExitStatus } from "./contract.ts";
import { ExecError, ExecErrorCode } from "./errors.ts";
import { step } from "./step.ts";

class FakeController implements Controller {
  calls: string[] = [];
  prepareError?: Error;
  startError?: Error;
  exit: ExitStatus = { exitCode: 0, oomKilled: false };
  async prepare(): Promise<void> {
    this.calls.push("prepare");
    if (this.prepareError) throw this.prepareError;
  }
  async start(): Promise<void> {
    this.calls.push("start");
    if (this.startError) throw this.startError;
  }
  async wait(): Promise<ExitStatus> {
    this.calls.push("wait");
    return this.exit;
  }
  async shutdown(): Promise<void> {
    this.calls.push("shutdown");
  }
  async terminate(): Promise<void> {
    this.calls.push("terminate");
  }
  async remove(): Promise<void> {
    this.calls.push("remove");
  }
  async inspect() {
    return { status: ContainerStatus.Running, containerId: "c1", pid: 42, imageDigest: "" };
  }
}

function task(state: TaskState = TaskState.TASK_STATE_ASSIGNED): Task {
  return {
    id: "t1", serviceId: "s", slot: 1, nodeId: "n", specVersion: 1, desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state, timestamp: 0, message: "", err: "", exitCode: 0, pid: 0, containerId: "", health: HealthState.HEALTH_NONE },
  };
}

async function walk(t: Task, ctl: Controller): Promise<TaskState[]> {
  const seen: TaskState[] = [];
  for (let i = 0; i < 20; i++) {
    const s = await step(t, ctl, undefined, () => 1000 + i);
    if (s === t.status) break;
    seen.push(s.state);
    t.status = s;
  }
  return seen;
}

describe("step", () => {
  it("moves a task one state forward per call, to COMPLETE", async () => {
    const ctl = new FakeController();
    const t = task();
    const states = await walk(t, ctl);
    assert.deepEqual(states, [TaskState.TASK_STATE_ACCEPTED, TaskState.TASK_STATE_PREPARING, TaskState.TASK_STATE_READY, TaskState.TASK_STATE_STARTING, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_COMPLETE]);
    assert.deepEqual(ctl.calls, ["prepare", "start", "wait"]);
    assert.equal(t.status!.message, "finished");
  });

  it("rejects a task whose prepare fails, keeping the error text", async () => {
    const ctl = new FakeController();
    ctl.prepareError = new ExecError(ExecErrorCode.ImageNotFound, "image not found: x");
    const t = task();
    const states = await walk(t, ctl);
    assert.equal(states.at(-1), TaskState.TASK_STATE_REJECTED);
    assert.equal(t.status!.err, "image not found: x");
  });

  it("fails a task whose start fails, or that exits non-zero or out of memory", async () => {
    const bad = new FakeController();
    bad.startError = new Error("runc start failed");
    const t1 = task();
    assert.equal((await walk(t1, bad)).at(-1), TaskState.TASK_STATE_FAILED);
    assert.equal(t1.status!.err, "runc start failed");
    const exits = new FakeController();
    exits.exit = { exitCode: 137, oomKilled: true };
    const t2 = task();
    await walk(t2, exits);
    assert.equal(t2.status!.state, TaskState.TASK_STATE_FAILED);
    assert.equal(t2.status!.exitCode, 137);
    assert.match(t2.status!.err, /out of memory/);
  });

  it("shuts a task down when its desired state is past RUNNING, and never moves a final state", async () => {
    const ctl = new FakeController();
    const t = task(TaskState.TASK_STATE_RUNNING);
    t.desiredState = TaskState.TASK_STATE_SHUTDOWN;
    const s = await step(t, ctl);
    assert.equal(s.state, TaskState.TASK_STATE_SHUTDOWN);
    assert.deepEqual(ctl.calls, ["shutdown"]);
    t.status = s;
    assert.equal(await step(t, ctl), s);
  });

  it("holds a READY task whose desired state is READY", async () => {
    const t = task(TaskState.TASK_STATE_READY);
    t.desiredState = TaskState.TASK_STATE_READY;
    assert.equal(await step(t, new FakeController()), t.status);
  });
});
