/** The runc executor: the engine core of a node, with its image store and containers under one data directory. */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { NodeDescription, Task } from "../../../proto/gen/objects.ts";
import type { Controller, Executor, FileSource, HealthReporter, LogReader } from "../../exec/contract.ts";
import { RegistryClient } from "../../image/registry.ts";
import type { RegistryOptions } from "../../image/registry.ts";
import { ImageStore } from "../../image/store.ts";
import type { GcResult } from "../../image/store.ts";
import { findHostBinary } from "../command.ts";
import { describeNode } from "../node.ts";
import { RuncController } from "./controller.ts";
import type { ContainerMeta, RuncEngine } from "./controller.ts";
import { Runc } from "./runc.ts";

/** runc keeps its state on tmpfs: it must not survive a reboot, when every container is gone. */
const DEFAULT_RUNTIME_ROOT = "/run/shoal/runc";
/** Log bound per task: enough for a good look back, small enough for many tasks per node. */
const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

/** How to set up a runc executor. */
export interface RuncExecutorOptions {
  /** The node's data directory: images, containers and volumes go under it. */
  dataDir: string;
  /** runc's state directory. */
  runtimeRoot?: string;
  /** Paths (or names on PATH) of runc and conmon. */
  runc?: string;
  conmon?: string;
  registry?: RegistryOptions;
  /** Bound on each task's log file, in bytes. */
  logMaxBytes?: number;
  /** Engine labels reported in the node description. */
  labels?: Record<string, string>;
}

/** Runs tasks as runc containers from OCI images. */
export class RuncExecutor implements Executor {
  /** The node's image store. */
  readonly images: ImageStore;
  private readonly engine: RuncEngine;

  /** @param options data directory, binaries, registry credentials, log bound */
  constructor(private readonly options: RuncExecutorOptions) {
    // conmon wants an absolute runtime path; finding both binaries now also fails early when one is missing.
    const runcPath = findHostBinary(options.runc ?? "runc");
    const conmonPath = findHostBinary(options.conmon ?? "conmon");
    this.images = new ImageStore(join(options.dataDir, "images"), new RegistryClient(options.registry));
    this.engine = {
      runc: new Runc(runcPath, options.runtimeRoot ?? DEFAULT_RUNTIME_ROOT),
      conmon: conmonPath,
      images: this.images,
      containersDir: join(options.dataDir, "containers"),
      volumesDir: join(options.dataDir, "volumes"),
      logMaxBytes: options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
    };
  }

  async describe(): Promise<NodeDescription> {
    return describeNode({ engine: "runc", ...this.options.labels });
  }

  controller(task: Task, files?: FileSource): Controller & LogReader & HealthReporter {
    return new RuncController(this.engine, task, files);
  }

  async tasks(): Promise<string[]> {
    return (await this.metas()).map((m) => m.taskId);
  }

  /** Removes images no container on this node uses, and their layers. */
  async pruneImages(): Promise<GcResult> {
    return this.images.gc((await this.metas()).map((m) => m.imageDigest));
  }

  /** The records of every container on disk. */
  private async metas(): Promise<ContainerMeta[]> {
    const dirs = await readdir(this.engine.containersDir).catch(() => [] as string[]);
    const metas = await Promise.all(dirs.map((d) => readFile(join(this.engine.containersDir, d, "meta.json"), "utf8").then((t) => JSON.parse(t) as ContainerMeta, () => undefined)));
    return metas.filter((m): m is ContainerMeta => m !== undefined);
  }
}
