/**
 * The task state machine on the agent, as SwarmKit's `exec.Do`: {@link step} moves a task exactly
 * one state forward per call and never backward. An error before STARTING rejects the task (it
 * never ran); an error from STARTING on fails it. The error text is kept in `status.err`.
 */
import type { Task } from "../../proto/gen/objects.ts";
import { HealthState, TaskState } from "../../proto/gen/types.ts";
import type { TaskStatus } from "../../proto/gen/types.ts";
import { hasHealth } from "./contract.ts";
import type { Controller, ExitStatus } from "./contract.ts";
import { errorText } from "./errors.ts";

/** The status a task has before any agent touched it. */
function initialStatus(): TaskStatus {
  return { state: TaskState.TASK_STATE_NEW, timestamp: 0, message: "", err: "", exitCode: 0, pid: 0, containerId: "", health: HealthState.HEALTH_NONE };
}

/** Whether a state is final: nothing moves a task out of it. */
export function isTerminal(state: TaskState): boolean {
  return state >= TaskState.TASK_STATE_COMPLETE;
}

/** The message and error kept for a process that exited. */
function exitOutcome(exit: ExitStatus): { state: TaskState; message: string; err: string } {
  if (exit.exitCode === 0 && !exit.oomKilled) return { state: TaskState.TASK_STATE_COMPLETE, message: "finished", err: "" };
  const why = exit.oomKilled ? `task: out of memory, killed by the OOM killer (exit code ${exit.exitCode})` : `task: non-zero exit (${exit.exitCode})`;
  return { state: TaskState.TASK_STATE_FAILED, message: "failed", err: why };
}

/** The controller's current health, or `otherwise` when it reports none. */
function healthOf(ctl: Controller, otherwise: HealthState): HealthState {
  return hasHealth(ctl) ? ctl.health().state : otherwise;
}

/**
 * Performs the one action the task's current state calls for and returns its next status. A task
 * in a final state, one that is READY while its desired state is READY, and a wait cut short by
 * `signal` come back unchanged. `now` is injected for tests.
 */
export async function step(task: Task, ctl: Controller, signal?: AbortSignal, now: () => number = Date.now): Promise<TaskStatus> {
  const status = task.status ?? initialStatus();
  const state = status.state;
  const to = (next: TaskState, message: string, extra: Partial<TaskStatus> = {}): TaskStatus => ({
    ...status,
    state: next,
    message,
    err: "",
    timestamp: now(),
    ...extra,
  });
  const fail = (err: unknown): TaskStatus =>
    state < TaskState.TASK_STATE_STARTING
      ? to(TaskState.TASK_STATE_REJECTED, "rejected", { err: errorText(err) })
      : to(TaskState.TASK_STATE_FAILED, "failed", { err: errorText(err) });

  if (isTerminal(state)) return status;
  if (task.desiredState > TaskState.TASK_STATE_RUNNING) {
    try {
      await ctl.shutdown();
    } catch (err) {
      return fail(err);
    }
    return to(TaskState.TASK_STATE_SHUTDOWN, "shutdown");
  }
  if (state === TaskState.TASK_STATE_READY && task.desiredState <= TaskState.TASK_STATE_READY) return status;

  switch (state) {
    case TaskState.TASK_STATE_ACCEPTED:
      return to(TaskState.TASK_STATE_PREPARING, "preparing");
    case TaskState.TASK_STATE_PREPARING:
      try {
        await ctl.prepare(signal);
      } catch (err) {
        return fail(err);
      }
      return to(TaskState.TASK_STATE_READY, "prepared");
    case TaskState.TASK_STATE_READY:
      return to(TaskState.TASK_STATE_STARTING, "starting");
    case TaskState.TASK_STATE_STARTING:
      try {
        await ctl.start();
        const info = await ctl.inspect();
        return to(TaskState.TASK_STATE_RUNNING, "started", { pid: info.pid, containerId: info.containerId, health: healthOf(ctl, HealthState.HEALTH_NONE) });
      } catch (err) {
        return fail(err);
      }
    case TaskState.TASK_STATE_RUNNING: {
      let exit: ExitStatus;
      try {
        exit = await ctl.wait(signal);
      } catch (err) {
        if (signal?.aborted) return status;
        return { ...fail(err), health: healthOf(ctl, status.health) };
      }
      const outcome = exitOutcome(exit);
      return to(outcome.state, outcome.message, { err: outcome.err, exitCode: exit.exitCode, pid: 0, health: healthOf(ctl, status.health) });
    }
    default:
      // NEW, PENDING, ASSIGNED: the agent has the task; accepting it is the first step.
      return to(TaskState.TASK_STATE_ACCEPTED, "accepted");
  }
}
