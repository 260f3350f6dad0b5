// The process engine against real host processes (/bin/sh), through the task state machine.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Task } from "../../../proto/gen/objects.ts";
import { HealthState, TaskState } from "../../../proto/gen/types.ts";
import type { TaskStatus } from "../../../proto/gen/types.ts";
import { step } from "../../exec/index.ts";
import type { Controller, LogEntry } from "../../exec/index.ts";
import { containerSpec, makeTask } from "../../../test/host/fixtures/task.ts";
import { ProcessExecutor } from "./index.ts";

const dataDir = mkdtempSync(join(tmpdir(), "shoal-process-"));
const ex = new ProcessExecutor({ dataDir });
const T = { timeout: 20_000 };

async function drive(task: Task, ctl: Controller, until: TaskState = TaskState.TASK_STATE_COMPLETE): Promise<TaskStatus> {
  for (;;) {
    task.status = await step(task, ctl);
    if (task.status.state >= until) return task.status;
  }
}

async function lines(logs: AsyncIterable<LogEntry>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of logs) out.push(e.line);
  return out;
}

describe("process engine", () => {
  after(async () => {
    for (const id of await ex.tasks()) await ex.controller({ id } as Task).remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs a command with environment and working directory, and keeps its output", T, async () => {
    const task = makeTask(containerSpec("", { command: ["sh", "-c", 'echo "$A $(pwd)"; echo err >&2; exit 3'], env: ["A=hello"], dir: "/tmp" }));
    const ctl = ex.controller(task);
    const status = await drive(task, ctl);
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.equal(status.exitCode, 3);
    assert.deepEqual((await lines(ctl.logs())).sort(), ["err", "hello /tmp"]);
  });

  it("rejects a command that is not on the host", T, async () => {
    const task = makeTask(containerSpec("", { command: ["no-such-command-xyz"] }));
    const status = await drive(task, ex.controller(task));
    assert.equal(status.state, TaskState.TASK_STATE_REJECTED);
    assert.match(status.err, /command not found on this host|command not found in this host/);
  });

  it("stops with the stop signal, or SIGKILL after the grace period", T, async () => {
    for (const [trap, grace, exitCode] of [['trap "exit 9" USR1', 5000, 9], ['trap "" USR1', 300, 137]] as const) {
      const task = makeTask(containerSpec("", { command: ["sh", "-c", `${trap}; echo ready; while true; do sleep 0.05; done`], stopSignal: "USR1", stopGracePeriodMs: grace }));
      const ctl = ex.controller(task);
      await drive(task, ctl, TaskState.TASK_STATE_RUNNING);
      await new Promise((r) => setTimeout(r, 200));
      const waiting = ctl.wait();
      task.desiredState = TaskState.TASK_STATE_SHUTDOWN;
      assert.equal((await step(task, ctl)).state, TaskState.TASK_STATE_SHUTDOWN);
      assert.equal((await waiting).exitCode, exitCode);
    }
  });

  it("follows logs, and fails the task when its health check does", T, async () => {
    const marker = join(dataDir, "healthy");
    const task = makeTask(
      containerSpec("", {
        command: ["sh", "-c", `touch ${marker}; for i in 1 2 3; do echo tick$i; sleep 0.2; done; rm ${marker}; sleep 30`],
        healthcheck: { test: ["CMD-SHELL", `test -f ${marker}`], intervalMs: 100, timeoutMs: 1000, retries: 2, startPeriodMs: 0 },
      }),
    );
    const ctl = ex.controller(task);
    await drive(task, ctl, TaskState.TASK_STATE_RUNNING);
    const follow = new AbortController();
    const followed = lines(ctl.logs({ follow: true, signal: follow.signal }));
    const status = await drive(task, ctl);
    follow.abort();
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.equal(status.health, HealthState.HEALTH_UNHEALTHY);
    assert.match(status.err, /unhealthy/);
    assert.deepEqual(await followed, ["tick1", "tick2", "tick3"]);
    await ctl.remove();
  });

  it("has no process for a task after a restart, and says so", T, async () => {
    const task = makeTask(containerSpec("", { command: ["true"] }));
    task.status = { ...task.status!, state: TaskState.TASK_STATE_RUNNING };
    const status = await step(task, new ProcessExecutor({ dataDir }).controller(task));
    assert.equal(status.state, TaskState.TASK_STATE_FAILED);
    assert.match(status.err, /does not keep processes across agent restarts/);
  });
});
