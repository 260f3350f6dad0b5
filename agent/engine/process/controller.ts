/**
 * The process controller: a task's command as a plain host process, for development and machines
 * without root. No image, no isolation: the spec's command and args run on the host with the
 * spec's environment (on top of PATH), working directory, numeric user, stop signal and grace
 * period; output goes to a bounded log in the same format as the runc engine's. The process is a
 * child of the agent, so, unlike runc containers, it does not survive an agent restart: a
 * controller made afterwards finds no process, and waiting for it fails the task.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Task } from "../../../proto/gen/objects.ts";
import type { ContainerSpec } from "../../../proto/gen/specs.ts";
import { HealthState } from "../../../proto/gen/types.ts";
import { ContainerStatus } from "../../exec/contract.ts";
import type { ContainerInfo, Controller, ExitStatus, HealthReport, HealthReporter, LogEntry, LogOptions, LogReader } from "../../exec/contract.ts";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import { DEFAULT_PATH, envValue, findCommand } from "../command.ts";
import { HealthMonitor, healthSettings, stopOnUnhealthy, untilUnhealthy } from "../health.ts";
import { readLog } from "../logs/reader.ts";
import { LogWriter } from "../logs/writer.ts";
import { runProbe } from "../probe.ts";
import { signalName, signalNumber } from "../signals.ts";

/** Docker's default stop grace period. */
const DEFAULT_STOP_GRACE_MS = 10_000;

/** Controller of one task run as a host process. */
export class ProcessController implements Controller, LogReader, HealthReporter {
  private child: ChildProcess | undefined;
  private exit: ExitStatus | undefined;
  private exited: Promise<ExitStatus> | undefined;
  private prepared: { argv: string[]; env: NodeJS.ProcessEnv; cwd: string } | undefined;
  private monitor: HealthMonitor | undefined;
  private readonly dir: string;

  /**
   * @param processesDir the directory holding each task's directory
   * @param task the task
   * @param logMaxBytes the bound on the task's log
   */
  constructor(
    processesDir: string,
    private readonly task: Task,
    private readonly logMaxBytes: number,
  ) {
    this.dir = join(processesDir, task.id.replace(/[^A-Za-z0-9_.-]/g, "_"));
  }

  /** The task's container spec; `invalid-spec` when it has none. */
  private get spec(): ContainerSpec {
    const c = this.task.spec?.container;
    if (!c) throw new ExecError(ExecErrorCode.InvalidSpec, `task ${this.task.id} has no container spec`);
    return c;
  }

  async prepare(): Promise<void> {
    if (this.prepared) return;
    const spec = this.spec;
    const argv = [...spec.command, ...spec.args];
    if (argv.length === 0) throw new ExecError(ExecErrorCode.InvalidSpec, "the process engine needs a command (it has no image to take one from)");
    signalName(spec.stopSignal);
    const env: NodeJS.ProcessEnv = { PATH: DEFAULT_PATH };
    for (const kv of spec.env) {
      const eq = kv.indexOf("=");
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const cwd = spec.dir || this.dir;
    await mkdir(this.dir, { recursive: true });
    await findCommand("/", argv[0]!, envValue(spec.env, "PATH") ?? DEFAULT_PATH, cwd, "this host");
    this.prepared = { argv, env, cwd };
  }

  async start(): Promise<void> {
    if (this.child) return;
    if (!this.prepared) throw new ExecError(ExecErrorCode.NotFound, `task ${this.task.id} has no process to start (prepare it first)`);
    const { argv, env, cwd } = this.prepared;
    const [uid, gid] = this.spec.user ? this.spec.user.split(":").map(Number) : [];
    if (uid !== undefined && Number.isNaN(uid)) throw new ExecError(ExecErrorCode.InvalidSpec, `the process engine takes only numeric users, not "${this.spec.user}"`);
    const log = new LogWriter(join(this.dir, "process.log"), this.logMaxBytes);
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"], ...(uid !== undefined ? { uid, gid: gid ?? uid } : {}) });
    child.stdout!.on("data", (d: Buffer) => log.write("stdout", d));
    child.stderr!.on("data", (d: Buffer) => log.write("stderr", d));
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        log.close();
        this.exit = { exitCode: code ?? 128 + signalNumber(signal ?? "SIGKILL"), oomKilled: false };
        resolve(this.exit);
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (err) => reject(new ExecError(ExecErrorCode.Runtime, `cannot start ${argv[0]}: ${err.message}`, err)));
    });
    this.child = child;
    const settings = healthSettings(this.spec.healthcheck, undefined);
    if (settings) {
      this.monitor = new HealthMonitor(settings, (probe, timeoutMs) => runProbe(probe[0]!, probe.slice(1), { cwd, env }, timeoutMs));
      this.monitor.start(Date.now());
    }
  }

  async wait(signal?: AbortSignal): Promise<ExitStatus> {
    if (!this.exited) throw new ExecError(ExecErrorCode.NotFound, `task ${this.task.id} has no process (the process engine does not keep processes across agent restarts)`);
    const aborted = untilUnhealthy(this.monitor, signal);
    const exit = await new Promise<ExitStatus>((resolve, reject) => {
      if (aborted?.aborted) return reject(aborted.reason);
      aborted?.addEventListener("abort", () => reject(aborted.reason), { once: true });
      void this.exited!.then(resolve);
    }).catch(stopOnUnhealthy(this.monitor));
    this.monitor?.stop();
    return exit;
  }

  async shutdown(): Promise<void> {
    if (!this.running()) return;
    this.signalGroup(signalName(this.spec.stopSignal));
    const grace = this.spec.stopGracePeriodMs || DEFAULT_STOP_GRACE_MS;
    const timedOut = await Promise.race([this.exited!.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), grace).unref())]);
    if (timedOut) await this.terminate();
  }

  async terminate(): Promise<void> {
    if (!this.running()) return;
    this.signalGroup("SIGKILL");
    await this.exited;
  }

  async remove(): Promise<void> {
    await this.terminate();
    this.monitor?.stop();
    await rm(this.dir, { recursive: true, force: true });
    this.prepared = undefined;
  }

  async inspect(): Promise<ContainerInfo> {
    const status = this.exit ? ContainerStatus.Stopped : this.child ? ContainerStatus.Running : this.prepared ? ContainerStatus.Created : ContainerStatus.Absent;
    return { status, containerId: this.child ? `pid-${this.child.pid}` : "", pid: status === ContainerStatus.Running ? (this.child?.pid ?? 0) : 0, imageDigest: "" };
  }

  logs(options: LogOptions = {}): AsyncIterable<LogEntry> {
    return readLog(join(this.dir, "process.log"), options, async () => !this.running());
  }

  health(): HealthReport {
    return this.monitor?.report() ?? { state: HealthState.HEALTH_NONE, failingStreak: 0, lastOutput: "" };
  }

  /** Whether the process has started and not yet exited. */
  private running(): boolean {
    return this.child !== undefined && this.exit === undefined;
  }

  /** Signals the process's whole group (it leads one), so its children stop too. */
  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child!.pid!, signal);
    } catch {
      // already gone
    }
  }
}
