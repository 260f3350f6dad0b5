/**
 * Help texts, built from the command definitions so they cannot drift from what the parser
 * accepts. Laid out as Docker's: a usage line, the summary, then commands or options.
 */
import { FlagKind } from "./args.ts";
import type { FlagSpec } from "./args.ts";
import type { Command, CommandGroup } from "./command.ts";

/** The program's name, first word of every usage line. */
export const PROGRAM = "shoal";

/** Two aligned columns, indented by two spaces. */
function columns(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`.trimEnd() + "\n").join("");
}

/** The options section for `flags`: `-q, --quiet   Only display IDs`. */
export function flagsHelp(flags: readonly FlagSpec[]): string {
  return columns(
    flags.map((f) => {
      const value = f.kind === FlagKind.BOOL ? "" : ` ${f.valueName ?? f.kind}`;
      const allowed = f.choices ? ` (${f.choices.join("|")})` : "";
      return [`${f.short ? `-${f.short}, ` : "    "}--${f.name}${value}`, f.description + allowed];
    }),
  );
}

/** A listing of commands with their summaries. */
function commandList(entries: readonly (Command | CommandGroup)[]): string {
  return columns(entries.map((e) => [e.name, e.summary]));
}

/** The help of one command; `path` is how it is invoked, such as `shoal node ls`. */
export function commandHelp(path: string, command: Command): string {
  let text = `Usage:  ${`${path} ${command.usage}`.trimEnd()}\n\n${command.summary}\n`;
  if (command.aliases?.length) text += `\nAliases:\n  ${[command.name, ...command.aliases].join(", ")}\n`;
  if (command.flags.length) text += `\nOptions:\n${flagsHelp(command.flags)}`;
  return text;
}

/** The help of a group of commands, such as `shoal node`. */
export function groupHelp(group: CommandGroup): string {
  const path = `${PROGRAM} ${group.name}`;
  return `Usage:  ${path} COMMAND\n\n${group.summary}\n\nCommands:\n${commandList(group.commands)}\nRun '${path} COMMAND --help' for more information on a command.\n`;
}

/** The help of the program: its groups, its own commands, the global options and the environment. */
export function rootHelp(groups: readonly CommandGroup[], commands: readonly Command[], globalFlags: readonly FlagSpec[], environment: readonly (readonly [string, string])[]): string {
  return (
    `Usage:  ${PROGRAM} [OPTIONS] COMMAND\n\nThe command-line client of a shoal cluster\n\n` +
    `Management Commands:\n${commandList(groups)}\nCommands:\n${commandList(commands)}\n` +
    `Global Options:\n${flagsHelp(globalFlags)}\nEnvironment:\n${columns(environment)}\n` +
    `Run '${PROGRAM} COMMAND --help' for more information on a command.\n`
  );
}
