/**
 * The errors an engine reports, in one table with stable codes: the task state machine keeps
 * their text for the user, and callers branch on `code`, never on the message.
 */

/** Stable codes of {@link ExecError}. */
export const ExecErrorCode = {
  /** The task spec cannot be run as written (missing image, bad user, bad mount). */
  InvalidSpec: "invalid-spec",
  /** The registry has no such repository, tag or digest. */
  ImageNotFound: "image-not-found",
  /** The registry refused the credentials, or needs some and none were given. */
  AuthRefused: "auth-refused",
  /** The registry could not be reached or answered something unexpected. */
  Registry: "registry",
  /** Content fetched from the registry does not hash to the digest it was asked for. */
  DigestMismatch: "digest-mismatch",
  /** A layer is not a valid (gzip-compressed) tar archive, or tries to escape its directory. */
  CorruptLayer: "corrupt-layer",
  /** The command to run does not exist in the image (or on the host, for the process engine). */
  CommandNotFound: "command-not-found",
  /** The container runtime (runc, conmon, the kernel) failed. */
  Runtime: "runtime",
  /** The engine has no container for the task. */
  NotFound: "not-found",
  /** The container's health check failed too many times in a row. */
  Unhealthy: "unhealthy",
} as const;
/** One value of {@link ExecErrorCode}. */
export type ExecErrorCode = (typeof ExecErrorCode)[keyof typeof ExecErrorCode];

/** An engine failure with a stable code and a message written for the person running the task. */
export class ExecError extends Error {
  override readonly name = "ExecError";

  /**
   * @param code what went wrong, for programs
   * @param message what went wrong, for people: names the image, registry or command involved
   * @param cause the lower-level error, if any
   */
  constructor(
    readonly code: ExecErrorCode,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** Whether `err` is an {@link ExecError}, optionally with the given code. */
export function isExecError(err: unknown, code?: ExecErrorCode): err is ExecError {
  return err instanceof ExecError && (code === undefined || err.code === code);
}

/** The text to keep in a task's status for any thrown value. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
