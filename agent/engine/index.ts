/** The engines behind the exec contract: runc (the real engine core) and process (plain host processes). */
export { ProcessExecutor } from "./process/index.ts";
export type { ProcessExecutorOptions } from "./process/index.ts";
export { RuncExecutor } from "./runc/index.ts";
export type { RuncExecutorOptions } from "./runc/index.ts";
export { HealthMonitor, healthSettings } from "./health.ts";
export type { HealthSettings, Probe, ProbeResult } from "./health.ts";
