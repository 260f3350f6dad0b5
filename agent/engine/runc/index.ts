/** The runc engine: containers from OCI images under runc, monitored by conmon. */
export { containerIdOf, RuncController } from "./controller.ts";
export type { ContainerMeta, RuncEngine } from "./controller.ts";
export { RuncExecutor } from "./executor.ts";
export type { RuncExecutorOptions } from "./executor.ts";
export { capabilities, processArgs, processEnv, runtimeConfig } from "./bundle.ts";
export type { BundleInput, OciMount, OciSpec } from "./bundle.ts";
