/**
 * `shoal`: the command-line client (deploy/cli/). Run it through bin/shoal, or
 * `node --import tsx deploy/shoal.ts ...`.
 */
import { runCli } from "./cli/index.ts";

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
