/** The process executor: tasks as plain host processes, one controller per task kept in memory. */
import { join } from "node:path";
import type { NodeDescription, Task } from "../../../proto/gen/objects.ts";
import type { Executor } from "../../exec/contract.ts";
import { describeNode } from "../node.ts";
import { ProcessController } from "./controller.ts";

/** Log bound per task, as the runc engine's. */
const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

/** How to set up a process executor. */
export interface ProcessExecutorOptions {
  /** The node's data directory; task logs go under `processes/`. */
  dataDir: string;
  logMaxBytes?: number;
  labels?: Record<string, string>;
}

/** Runs tasks as host processes. */
export class ProcessExecutor implements Executor {
  private readonly controllers = new Map<string, ProcessController>();

  /** @param options data directory, log bound, labels */
  constructor(private readonly options: ProcessExecutorOptions) {}

  async describe(): Promise<NodeDescription> {
    return describeNode({ engine: "process", ...this.options.labels });
  }

  controller(task: Task): ProcessController {
    let c = this.controllers.get(task.id);
    if (!c) {
      c = new ProcessController(join(this.options.dataDir, "processes"), task, this.options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES);
      this.controllers.set(task.id, c);
    }
    return c;
  }

  async tasks(): Promise<string[]> {
    const live = await Promise.all([...this.controllers].map(async ([id, c]) => ((await c.inspect()).status === "absent" ? undefined : id)));
    return live.filter((id): id is string => id !== undefined);
  }
}
