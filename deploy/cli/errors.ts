/**
 * The two ways a command fails. A {@link UsageError} means the command line itself is wrong:
 * the CLI prints it with the usage of the command and exits 2. A {@link CliError} is anything
 * else a person must read (the server refused, a file is missing): printed alone, exit 1.
 */

/** Exit codes, as Docker's CLI and most Unix tools use them. */
export const ExitCode = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
} as const;
/** One value of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The command line is wrong: an unknown flag or command, a missing argument, a value not allowed. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure meant for people; `message` is complete and is printed as `Error: <message>`. */
export class CliError extends Error {
  override readonly name = "CliError";

  /** `unreachable`: the daemon could not be reached at all, so trying other arguments is pointless. */
  constructor(
    message: string,
    readonly unreachable = false,
  ) {
    super(message);
  }
}

/** How every error reaches stderr: `Error: <message>`, one line, as Docker prints them. */
export function errorLine(message: string): string {
  return `Error: ${message}\n`;
}

/** "a, b or c": the allowed values of something, for error messages. */
export function oneOf(values: readonly string[]): string {
  return values.length <= 1 ? values.join("") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

/**
 * `value` if it is one of `allowed`; otherwise a {@link UsageError} such as
 * `invalid availability "x": must be active, pause or drain`.
 */
export function checkChoice<T extends string>(noun: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`invalid ${noun} ${JSON.stringify(value)}: must be ${oneOf(allowed)}`);
}
