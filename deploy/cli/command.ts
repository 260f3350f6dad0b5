/**
 * The shape of a command: what it is called, the flags and arguments it takes (from which its
 * help text and its parsing both come), and what it does. Commands are grouped by noun
 * (`cluster`, `node`), as Docker's management commands are.
 */
import type { FlagSpec, ParsedFlags } from "./args.ts";
import type { ControlClient } from "./control-client.ts";
import type { Env } from "./connection.ts";
import type { ExitCode } from "./errors.ts";

/** Somewhere text goes: a stream, or a buffer in tests. */
export interface Output {
  write(text: string): unknown;
}

/** Somewhere bytes come from: a stream, or a buffer in tests. */
export type Input = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/** What the CLI reads and writes besides its arguments, so that it can run in-process. */
export interface CliIO {
  stdout: Output;
  stderr: Output;
  env: Env;
  /** What `-` reads (`config create NAME -`); nothing when absent. */
  stdin?: Input;
  /** Milliseconds since the epoch, for "2 hours ago" (default `Date.now`). */
  now?: () => number;
}

/** What a running command gets. */
export interface CommandContext {
  io: CliIO;
  /** The command's flags, and the global ones. */
  flags: ParsedFlags;
  /** The positional arguments, their count already checked against {@link Command.args}. */
  args: string[];
  /** The control API of the daemon named by `-H`/SHOAL_HOST, connected on first use and closed after the command. */
  connect(): ControlClient;
}

/** One command, such as `node ls`. */
export interface Command {
  name: string;
  /** Other names it answers to (`list` for `ls`). */
  aliases?: string[];
  /** One line for listings and the help text. */
  summary: string;
  /** The arguments part of the usage line, such as `[OPTIONS] NODE [NODE...]`. */
  usage: string;
  flags: FlagSpec[];
  /** How many positional arguments it takes. */
  args: { min: number; max: number };
  run(ctx: CommandContext): Promise<ExitCode>;
}

/** A noun and its commands, such as `node`. */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: Command[];
}

/** The command of `commands` called `name` or aliased so. */
export function findCommand(commands: readonly Command[], name: string): Command | undefined {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
}
