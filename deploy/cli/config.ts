/**
 * `shoal config ...`: create, list, inspect and remove configs, with the arguments and output of
 * `docker config ...`. A CONFIG argument is an id, a name or a unique id prefix; the server
 * resolves it (GetConfig).
 */
import { readFile } from "node:fs/promises";
import type { Config } from "../../proto/gen/objects.ts";
import { FlagKind, parseLabel } from "./args.ts";
import type { Command, CommandGroup, Input } from "./command.ts";
import { byName, CONFIG_TABLE_HEADERS, configRow, prettyConfig, shownConfig, summarizeConfig } from "./config-view.ts";
import { ANY_NUMBER, forEachArg } from "./each-arg.ts";
import { CliError, ExitCode } from "./errors.ts";
import { renderJson, renderJsonLine, renderTable } from "./output.ts";

/** The FILE argument that means standard input. */
const STDIN = "-";

/** Everything `input` yields, as bytes. */
async function readAll(input: Input): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return Buffer.concat(chunks);
}

/** The contents of `file`, or of standard input for `-`; a {@link CliError} naming the file when it cannot be read. */
async function readData(file: string, stdin: Input | undefined): Promise<Uint8Array> {
  if (file === STDIN) {
    if (!stdin) throw new CliError("no standard input to read the config from");
    return readAll(stdin);
  }
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : (err as Error).message;
    throw new CliError(`cannot read ${file}: ${reason}`);
  }
}

const create: Command = {
  name: "create",
  summary: "Create a config from a file or STDIN as content",
  usage: "[OPTIONS] CONFIG file|-",
  flags: [{ name: "label", short: "l", kind: FlagKind.LIST, valueName: "key=value", description: "Config labels (repeatable)" }],
  args: { min: 2, max: 2 },
  async run({ flags, io, args, connect }) {
    const [name, file] = args as [string, string];
    const labels = Object.fromEntries(flags.list("label").map(parseLabel));
    const data = await readData(file, io.stdin);
    const config = await connect().createConfig({ annotations: { name, labels }, data });
    io.stdout.write(`${config.id}\n`);
    return ExitCode.OK;
  },
};

const ls: Command = {
  name: "ls",
  aliases: ["list"],
  summary: "List configs",
  usage: "[OPTIONS]",
  flags: [
    { name: "format", kind: FlagKind.STRING, valueName: "string", description: "Output format: a table, or one JSON object per line", choices: ["table", "json"] },
    { name: "quiet", short: "q", kind: FlagKind.BOOL, description: "Only display IDs" },
  ],
  args: { min: 0, max: 0 },
  async run({ flags, io, connect }) {
    const configs = (await connect().listConfigs()).sort(byName);
    if (flags.bool("quiet")) io.stdout.write(configs.map((c) => `${c.id}\n`).join(""));
    else if (flags.string("format") === "json") io.stdout.write(configs.map((c) => renderJsonLine(summarizeConfig(c))).join(""));
    else {
      const now = (io.now ?? Date.now)();
      io.stdout.write(renderTable(CONFIG_TABLE_HEADERS, configs.map((c) => configRow(c, now))));
    }
    return ExitCode.OK;
  },
};

const inspect: Command = {
  name: "inspect",
  summary: "Display detailed information on one or more configs",
  usage: "[OPTIONS] CONFIG [CONFIG...]",
  flags: [{ name: "pretty", kind: FlagKind.BOOL, description: "Print the information in a human friendly format" }],
  args: { min: 1, max: ANY_NUMBER },
  async run(ctx) {
    const found: Config[] = [];
    const code = await forEachArg(ctx, async (client, ref) => {
      found.push(await client.getConfig(ref));
    });
    ctx.io.stdout.write(ctx.flags.bool("pretty") ? found.map(prettyConfig).join("\n") : renderJson(found.map(shownConfig)));
    return code;
  },
};

const rm: Command = {
  name: "rm",
  aliases: ["remove"],
  summary: "Remove one or more configs",
  usage: "CONFIG [CONFIG...]",
  flags: [],
  args: { min: 1, max: ANY_NUMBER },
  run: (ctx) =>
    forEachArg(ctx, async (client, ref) => {
      const config = await client.getConfig(ref);
      await client.removeConfig(config.id);
      ctx.io.stdout.write(`${ref}\n`);
    }),
};

/** `shoal config`: manage the configs services mount into their containers. */
export const configGroup: CommandGroup = {
  name: "config",
  summary: "Manage configs",
  commands: [create, inspect, ls, rm],
};
