/**
 * The CLI as a function: `runCli(argv, io)` parses the command line, runs the command, prints
 * what it has to say, and returns the exit code (0 done, 1 error, 2 usage error). It touches the
 * process only through `io`, so tests drive it in-process.
 *
 * Global options may come before the command (`shoal -H unix:///x node ls`, as Docker wants
 * them) or among the command's own flags (`shoal node ls -H unix:///x`).
 */
import { FlagKind, parseArgs } from "./args.ts";
import type { FlagSpec } from "./args.ts";
import { findCommand } from "./command.ts";
import type { CliIO, Command } from "./command.ts";
import { clusterGroup } from "./cluster.ts";
import { configGroup } from "./config.ts";
import { CertPathFile, DEFAULT_HOST, EnvVar, resolveEndpoint } from "./connection.ts";
import { ControlClient } from "./control-client.ts";
import { errorLine, ExitCode, UsageError } from "./errors.ts";
import { commandHelp, groupHelp, PROGRAM, rootHelp } from "./help.ts";
import { nodeGroup } from "./node.ts";
import { versionCommand, versionText } from "./version.ts";

/** Options every command accepts. */
const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "host", short: "H", kind: FlagKind.STRING, valueName: "string", description: `Daemon to talk to: unix:///path/to/shoald.sock, or tcp://HOST:PORT over mutual TLS (default $${EnvVar.HOST}, else ${DEFAULT_HOST})` },
  { name: "tlscacert", kind: FlagKind.STRING, valueName: "FILE", description: `Cluster CA certificate, for tcp:// (default $${EnvVar.CERT_PATH}/${CertPathFile.CA})` },
  { name: "tlscert", kind: FlagKind.STRING, valueName: "FILE", description: `Client certificate, for tcp:// (default $${EnvVar.CERT_PATH}/${CertPathFile.CERT})` },
  { name: "tlskey", kind: FlagKind.STRING, valueName: "FILE", description: `Client key, for tcp:// (default $${EnvVar.CERT_PATH}/${CertPathFile.KEY})` },
  { name: "help", short: "h", kind: FlagKind.BOOL, description: "Print usage" },
];

/** Options only before a command. */
const ROOT_FLAGS: FlagSpec[] = [...GLOBAL_FLAGS, { name: "version", short: "v", kind: FlagKind.BOOL, description: "Print version information and quit" }];

const GROUPS = [clusterGroup, configGroup, nodeGroup];
const COMMANDS = [versionCommand];

const ENVIRONMENT = [
  [EnvVar.HOST, "The daemon to talk to, as -H takes it"],
  [EnvVar.CERT_PATH, `A directory holding ${Object.values(CertPathFile).join(", ")} for tcp:// hosts (\`shoal cluster client-cert\` makes one)`],
] as const;

const ROOT_HELP = rootHelp(GROUPS, COMMANDS, ROOT_FLAGS, ENVIRONMENT);

/** "1 argument", "2 arguments". */
function argumentCount(n: number): string {
  return `${n} argument${n === 1 ? "" : "s"}`;
}

/** Refuses a number of positional arguments `command` does not take, as Docker words it. */
function checkArgCount(path: string, command: Command, count: number): void {
  const { min, max } = command.args;
  if (count >= min && count <= max) return;
  if (max === 0) throw new UsageError(`"${path}" accepts no arguments`);
  if (min === max) throw new UsageError(`"${path}" requires exactly ${argumentCount(min)}`);
  if (count < min) throw new UsageError(`"${path}" requires at least ${argumentCount(min)}`);
  throw new UsageError(`"${path}" accepts at most ${argumentCount(max)}`);
}

/** Runs the CLI with `argv` (the arguments after the program name); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  // The help of the level reached so far: printed on request, and after a usage error.
  let help = ROOT_HELP;
  let client: ControlClient | undefined;
  try {
    const root = parseArgs(argv, ROOT_FLAGS, { stopAtPositional: true });
    if (root.flags.bool("version")) {
      io.stdout.write(versionText());
      return ExitCode.OK;
    }
    const [name, ...rest] = root.positionals;
    if (name === undefined) {
      io.stdout.write(help);
      return ExitCode.OK;
    }
    let command: Command | undefined;
    let path: string;
    let args: string[];
    const group = GROUPS.find((g) => g.name === name);
    if (group) {
      help = groupHelp(group);
      const [sub, ...subArgs] = rest;
      if (sub === undefined || sub === "--help" || sub === "-h") {
        io.stdout.write(help);
        return ExitCode.OK;
      }
      if (sub.startsWith("-")) throw new UsageError(`"${PROGRAM} ${group.name}" takes a command before any flag, not ${sub}`);
      command = findCommand(group.commands, sub);
      if (!command) throw new UsageError(`unknown command "${sub}" for "${PROGRAM} ${group.name}"`);
      path = `${PROGRAM} ${group.name} ${command.name}`;
      args = subArgs;
    } else {
      command = findCommand(COMMANDS, name);
      if (!command) throw new UsageError(`unknown command "${name}" for "${PROGRAM}"`);
      path = `${PROGRAM} ${command.name}`;
      args = rest;
    }
    help = commandHelp(path, command);
    const parsed = parseArgs(args, [...command.flags, ...GLOBAL_FLAGS]);
    const flags = root.flags.merged(parsed.flags);
    if (flags.bool("help")) {
      io.stdout.write(help);
      return ExitCode.OK;
    }
    checkArgCount(path, command, parsed.positionals.length);
    return await command.run({
      io,
      flags,
      args: parsed.positionals,
      connect: () => (client ??= new ControlClient(resolveEndpoint(flags, io.env))),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${errorLine(err.message)}\n${help}`);
      return ExitCode.USAGE;
    }
    io.stderr.write(errorLine(err instanceof Error ? err.message : String(err)));
    return ExitCode.ERROR;
  } finally {
    client?.close();
  }
}
