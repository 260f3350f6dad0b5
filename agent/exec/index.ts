/** The engine contract: executors, controllers, their optional abilities, errors and the task state machine. */
export { ContainerStatus, hasHealth, hasLogs } from "./contract.ts";
export type {
  ContainerInfo,
  Controller,
  Executor,
  ExitStatus,
  FileSource,
  HealthReport,
  HealthReporter,
  LogEntry,
  LogOptions,
  LogReader,
  LogStream,
} from "./contract.ts";
export { ExecError, ExecErrorCode, errorText, isExecError } from "./errors.ts";
export { isTerminal, step } from "./step.ts";
