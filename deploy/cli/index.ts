/** The `shoal` command-line client, callable in-process (deploy/shoal.ts is the executable). */
export { runCli } from "./run.ts";
export type { CliIO, Output } from "./command.ts";
export { EnvVar } from "./connection.ts";
export { ExitCode } from "./errors.ts";
