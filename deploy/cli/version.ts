/** `shoal version` (and `shoal --version`): which client this is. */
import packageJson from "../../package.json" with { type: "json" };
import type { Command } from "./command.ts";
import { ExitCode } from "./errors.ts";
import { PROGRAM } from "./help.ts";

/** The project's version, from its package.json (imported, so that the bundle bin/shoal runs carries it). */
const VERSION = packageJson.version;

/** The version line: shoal's version and the Node.js it runs on. */
export function versionText(): string {
  return `${PROGRAM} version ${VERSION} (Node.js ${process.version}, ${process.platform}/${process.arch})\n`;
}

/** `shoal version`. */
export const versionCommand: Command = {
  name: "version",
  summary: "Show the shoal version information",
  usage: "",
  flags: [],
  args: { min: 0, max: 0 },
  async run({ io }) {
    io.stdout.write(versionText());
    return ExitCode.OK;
  },
};
