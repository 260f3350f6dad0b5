/**
 * Commands that take several objects (`node rm A B`, `config inspect A B`) act on each in turn
 * and go on after one fails, as Docker's do: the failure is printed and the exit code says it.
 */
import type { CommandContext } from "./command.ts";
import type { ControlClient } from "./control-client.ts";
import { CliError, errorLine, ExitCode } from "./errors.ts";

/** No limit on the number of arguments: `args: { min: 1, max: ANY_NUMBER }`. */
export const ANY_NUMBER = Number.POSITIVE_INFINITY;

/**
 * Runs `fn` for each positional argument, going on after a failure (printing it) so that one bad
 * name does not stop the others; exit 1 if any failed. A daemon that cannot be reached stops it all.
 */
export async function forEachArg(ctx: CommandContext, fn: (client: ControlClient, ref: string) => Promise<void>): Promise<ExitCode> {
  const client = ctx.connect();
  let code: ExitCode = ExitCode.OK;
  for (const ref of ctx.args) {
    try {
      await fn(client, ref);
    } catch (err) {
      if (!(err instanceof CliError) || err.unreachable) throw err;
      ctx.io.stderr.write(errorLine(err.message));
      code = ExitCode.ERROR;
    }
  }
  return code;
}
