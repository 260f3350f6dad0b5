/**
 * The contract between the agent and an engine: an {@link Executor} describes the node and makes
 * a {@link Controller} per task. Abilities not every engine has (logs, health) are separate small
 * interfaces, tested for with {@link hasLogs} and {@link hasHealth}.
 */
import type { NodeDescription, Task } from "../../proto/gen/objects.ts";
import type { HealthState } from "../../proto/gen/types.ts";

/** How a container's main process ended. */
export interface ExitStatus {
  /** The process's exit code; 128 + n when it was killed by signal n (as a shell reports it). */
  exitCode: number;
  /** Whether the kernel's OOM killer ended it because it exceeded its memory limit. */
  oomKilled: boolean;
}

/** What a controller's container currently is. */
export const ContainerStatus = {
  /** The engine has nothing for this task. */
  Absent: "absent",
  /** Prepared: created but its process has not been started. */
  Created: "created",
  Running: "running",
  Stopped: "stopped",
} as const;
/** One value of {@link ContainerStatus}. */
export type ContainerStatus = (typeof ContainerStatus)[keyof typeof ContainerStatus];

/** What an engine observes about a task's container. */
export interface ContainerInfo {
  status: ContainerStatus;
  /** The engine's name for the container (empty when absent). */
  containerId: string;
  /** Host pid of the main process while it runs, else 0. */
  pid: number;
  /** The image digest the container runs (empty for the process engine). */
  imageDigest: string;
}

/** Runs one task's container. Methods are idempotent: calling one again after it succeeded is a no-op. */
export interface Controller {
  /** Pulls the image and creates everything the container needs, ready to start. */
  prepare(signal?: AbortSignal): Promise<void>;
  /** Starts the prepared container; resolves once its process is running. */
  start(): Promise<void>;
  /** Resolves when the process exits; rejects with an `unhealthy` error if its health check fails. */
  wait(signal?: AbortSignal): Promise<ExitStatus>;
  /** Sends the stop signal, then SIGKILL once the grace period is over; resolves when it has stopped. */
  shutdown(): Promise<void>;
  /** Kills the process at once. */
  terminate(): Promise<void>;
  /** Deletes the container and everything made for it (not named volumes). */
  remove(): Promise<void>;
  /** Reports what the container is now, from the engine's own records (it survives agent restarts). */
  inspect(): Promise<ContainerInfo>;
}

/** Which output stream a log line came from. */
export type LogStream = "stdout" | "stderr";

/** One line a container wrote. */
export interface LogEntry {
  /** When the engine read it, in milliseconds since the Unix epoch. */
  time: number;
  /** The same instant as RFC 3339 with nanoseconds, as recorded. */
  timestamp: string;
  stream: LogStream;
  /** The line without its newline. */
  line: string;
}

/** Which log lines to read. */
export interface LogOptions {
  /** Keep reading new lines until the container stops or `signal` aborts. */
  follow?: boolean;
  /** Only the last n lines already written (before following). */
  tail?: number;
  /** Only lines written at or after this time, in milliseconds since the Unix epoch. */
  since?: number;
  signal?: AbortSignal;
}

/** A controller whose container's output can be read. */
export interface LogReader {
  /** The container's output lines, oldest first. */
  logs(options?: LogOptions): AsyncIterable<LogEntry>;
}

/** What a container's health check last concluded. */
export interface HealthReport {
  state: HealthState;
  /** Consecutive failed probes. */
  failingStreak: number;
  /** Output of the last probe, trimmed. */
  lastOutput: string;
}

/** A controller whose container has a health check. */
export interface HealthReporter {
  /** The current health; HEALTH_NONE when the task has no health check. */
  health(): HealthReport;
}

/** Secret and config payloads for a task, held in memory by the agent. */
export interface FileSource {
  /** The payload of a secret or config by its id, or undefined when the agent was not given it. */
  get(id: string): Uint8Array | undefined;
}

/** An engine on one node. */
export interface Executor {
  /** What this node offers: hostname, platform, CPUs, memory, engine labels. */
  describe(): Promise<NodeDescription>;
  /** The controller of `task`'s container; cheap, and finds an existing container again after a restart. */
  controller(task: Task, files?: FileSource): Controller;
  /** Ids of the tasks that have a container on this node, as found on disk. */
  tasks(): Promise<string[]>;
}

/** Whether a controller can read its container's logs. */
export function hasLogs(c: Controller): c is Controller & LogReader {
  return typeof (c as Partial<LogReader>).logs === "function";
}

/** Whether a controller reports its container's health. */
export function hasHealth(c: Controller): c is Controller & HealthReporter {
  return typeof (c as Partial<HealthReporter>).health === "function";
}
