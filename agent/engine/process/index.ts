/** The process engine: tasks as plain host processes, for development and machines without root. */
export { ProcessController } from "./controller.ts";
export { ProcessExecutor } from "./executor.ts";
export type { ProcessExecutorOptions } from "./executor.ts";
