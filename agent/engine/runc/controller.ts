/**
 * The runc controller of one task: prepare pulls the image, mounts the root filesystem, places
 * secrets, writes the bundle and has conmon create the container; start runs `runc start`; wait
 * watches conmon's exit file and the health check; shutdown sends the stop signal and SIGKILL
 * after the grace period; remove deletes the container and unmounts everything. All state is on
 * disk (container directory, runc's state, conmon's files), so a controller made after an agent
 * restart picks up where the old one was.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { Task } from "../../../proto/gen/objects.ts";
import type { ContainerSpec } from "../../../proto/gen/specs.ts";
import { HealthState } from "../../../proto/gen/types.ts";
import { ContainerStatus } from "../../exec/contract.ts";
import type { ContainerInfo, Controller, ExitStatus, FileSource, HealthReport, HealthReporter, LogEntry, LogOptions, LogReader } from "../../exec/contract.ts";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ImageStore } from "../../image/store.ts";
import { findCommand } from "../command.ts";
import { HealthMonitor, healthSettings, stopOnUnhealthy, untilUnhealthy } from "../health.ts";
import type { HealthSettings } from "../health.ts";
import { readLog } from "../logs/reader.ts";
import { signalName } from "../signals.ts";
import { pathOf, processArgs, processCwd, processEnv, runtimeConfig } from "./bundle.ts";
import { cgroupPathOf, oomKilled } from "./cgroup.ts";
import { createContainer } from "./conmon.ts";
import { readExit, waitExit } from "./exit.ts";
import { placeFiles, removeFiles } from "./files.ts";
import { resolveMounts } from "./mounts.ts";
import { ContainerPaths } from "./paths.ts";
import { mountRootfs, unmountRootfs } from "./rootfs.ts";
import type { Runc } from "./runc.ts";
import { resolveUser } from "./user.ts";

/** Docker's default stop grace period. */
const DEFAULT_STOP_GRACE_MS = 10_000;
/** How long to wait for a process to die after SIGKILL before calling it a runtime failure. */
const KILL_WAIT_MS = 10_000;
/** Hostnames are the first characters of the task id, as Docker uses the container id's. */
const HOSTNAME_CHARS = 12;

/** What the runc engine shares with its controllers. */
export interface RuncEngine {
  runc: Runc;
  conmon: string;
  images: ImageStore;
  containersDir: string;
  volumesDir: string;
  logMaxBytes: number;
}

/** The engine's record of a container, written before it is created. */
export interface ContainerMeta {
  taskId: string;
  imageDigest: string;
  health?: HealthSettings;
}

/** The container id runc and conmon know a task's container by. */
export function containerIdOf(taskId: string): string {
  return `shoal-${taskId.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
}

/** Controller of one task's container under runc. */
export class RuncController implements Controller, LogReader, HealthReporter {
  private readonly paths: ContainerPaths;
  private monitor: HealthMonitor | undefined;

  /**
   * @param engine runc, conmon, the image store and directories
   * @param task the task (its spec must have a container)
   * @param files secret and config payloads
   */
  constructor(
    private readonly engine: RuncEngine,
    private readonly task: Task,
    private readonly files?: FileSource,
  ) {
    this.paths = new ContainerPaths(engine.containersDir, containerIdOf(task.id));
  }

  /** The task's container spec; `invalid-spec` when it has none. */
  private get spec(): ContainerSpec {
    const c = this.task.spec?.container;
    if (!c || !c.image) throw new ExecError(ExecErrorCode.InvalidSpec, `task ${this.task.id} has no container image`);
    return c;
  }

  async prepare(): Promise<void> {
    const { runc, images } = this.engine;
    if (await runc.state(this.paths.id)) return;
    const spec = this.spec;
    const stopSignal = signalName(spec.stopSignal); // reject a bad signal now, not at shutdown
    const image = await images.pull(spec.image);
    await this.cleanup(); // leftovers of an attempt interrupted by an agent restart
    await Promise.all([this.paths.exitDir, this.paths.persist].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
    try {
      const cfg = image.config.config ?? {};
      const meta: ContainerMeta = { taskId: this.task.id, imageDigest: image.digest, health: healthSettings(spec.healthcheck, cfg.Healthcheck) };
      await writeFile(this.paths.meta, JSON.stringify(meta));
      await mountRootfs(this.paths, images.layerDirs(image));
      const user = await resolveUser(this.paths.rootfs, spec.user || cfg.User || "", spec.image);
      const hostname = spec.hostname || this.task.id.slice(0, HOSTNAME_CHARS);
      const env = processEnv(spec, cfg, hostname, user.home);
      const args = processArgs(spec, cfg);
      const cwd = processCwd(spec, cfg);
      await findCommand(this.paths.rootfs, args[0]!, pathOf(env), cwd, `image ${spec.image}`);
      const mounts = [...(await resolveMounts(spec.mounts, this.engine.volumesDir)), ...(await placeFiles(this.paths, spec.secrets, spec.configs, this.files))];
      const config = runtimeConfig({ spec, limits: this.task.spec?.resources?.limits, image: cfg, args, env, cwd, user, hostname, rootfs: this.paths.rootfs, cgroupsPath: cgroupPathOf(this.paths.id), mounts });
      await writeFile(this.paths.config, JSON.stringify({ ...config, annotations: { "shoal.task.id": this.task.id, "shoal.stop-signal": stopSignal } }));
      await createContainer(this.engine.conmon, runc, this.paths, this.engine.logMaxBytes);
    } catch (err) {
      await this.cleanup();
      throw err;
    }
  }

  async start(): Promise<void> {
    const st = await this.engine.runc.state(this.paths.id);
    if (!st) throw new ExecError(ExecErrorCode.NotFound, `task ${this.task.id} has no container to start (prepare it first)`);
    if (st.status === "created") await this.engine.runc.start(this.paths.id);
    await this.startHealth();
  }

  async wait(signal?: AbortSignal): Promise<ExitStatus> {
    const st = await this.engine.runc.state(this.paths.id);
    if (!st && (await readExit(this.paths)) === undefined) throw new ExecError(ExecErrorCode.NotFound, `task ${this.task.id} has no container`);
    if (st?.status === "running") await this.startHealth();
    const code = await waitExit(this.paths, this.engine.runc, untilUnhealthy(this.monitor, signal)).catch(stopOnUnhealthy(this.monitor));
    this.monitor?.stop();
    return { exitCode: code ?? -1, oomKilled: await oomKilled(cgroupPathOf(this.paths.id)) };
  }

  async shutdown(): Promise<void> {
    const st = await this.engine.runc.state(this.paths.id);
    if (!st || st.status === "stopped") return;
    if (st.status === "running") {
      await this.engine.runc.kill(this.paths.id, signalName(this.spec.stopSignal));
      const grace = this.spec.stopGracePeriodMs || DEFAULT_STOP_GRACE_MS;
      if ((await waitExit(this.paths, this.engine.runc, undefined, grace)) !== undefined) return;
    }
    await this.terminate();
  }

  async terminate(): Promise<void> {
    const st = await this.engine.runc.state(this.paths.id);
    if (!st || st.status === "stopped") return;
    await this.engine.runc.kill(this.paths.id, "SIGKILL");
    if ((await waitExit(this.paths, this.engine.runc, undefined, KILL_WAIT_MS)) === undefined) throw new ExecError(ExecErrorCode.Runtime, `container ${this.paths.id} did not die after SIGKILL`);
  }

  async remove(): Promise<void> {
    await this.terminate();
    this.monitor?.stop();
    await this.engine.runc.delete(this.paths.id);
    await this.cleanup();
  }

  async inspect(): Promise<ContainerInfo> {
    const st = await this.engine.runc.state(this.paths.id);
    const meta = await this.meta();
    if (!st) return { status: ContainerStatus.Absent, containerId: "", pid: 0, imageDigest: meta?.imageDigest ?? "" };
    const status = st.status === "running" || st.status === "paused" ? ContainerStatus.Running : st.status === "stopped" ? ContainerStatus.Stopped : ContainerStatus.Created;
    return { status, containerId: this.paths.id, pid: status === ContainerStatus.Running ? st.pid : 0, imageDigest: meta?.imageDigest ?? "" };
  }

  logs(options: LogOptions = {}): AsyncIterable<LogEntry> {
    return readLog(this.paths.log, options, async () => (await readExit(this.paths)) !== undefined || (await this.inspect()).status !== ContainerStatus.Running);
  }

  health(): HealthReport {
    return this.monitor?.report() ?? { state: HealthState.HEALTH_NONE, failingStreak: 0, lastOutput: "" };
  }

  /** Starts the health monitor if the container has a check and it is not running yet. */
  private async startHealth(): Promise<void> {
    if (this.monitor) return;
    const settings = (await this.meta())?.health;
    if (!settings) return;
    this.monitor = new HealthMonitor(settings, (argv, timeoutMs) => this.engine.runc.exec(this.paths.id, argv, timeoutMs));
    this.monitor.start(Date.now());
  }

  /** The engine's record of the container, if it has one. */
  private async meta(): Promise<ContainerMeta | undefined> {
    return readFile(this.paths.meta, "utf8").then((t) => JSON.parse(t) as ContainerMeta, () => undefined);
  }

  /** Unmounts and deletes everything in the container's directory. */
  private async cleanup(): Promise<void> {
    removeFiles(this.paths);
    unmountRootfs(this.paths);
    await rm(this.paths.dir, { recursive: true, force: true });
  }
}
