/**
 * `npm run sim -- [--schedules N] [--seed S] [--nodes 3|5] [--inject-bug NAME]`
 *
 * Runs N schedules with seeds S, S+1, ... and prints one summary line. Exits non-zero when any
 * schedule found a violation, printing the first violation and the command that replays it.
 * With --inject-bug it stops at the first schedule that finds the planted bug.
 */
import { fileURLToPath } from "node:url";
import { BUGS, isBugName } from "./bugs.ts";
import type { BugName } from "./bugs.ts";
import { runSchedule } from "./simulation.ts";
import type { SimResult } from "./simulation.ts";

/** Parsed command line. */
export interface SimArgs {
  schedules: number;
  seed: number;
  nodes: number;
  bug?: BugName;
  verbose: boolean;
}

const USAGE = `usage: npm run sim -- [--schedules N] [--seed S] [--nodes 3|5] [--inject-bug NAME] [--verbose]
  bugs: ${Object.keys(BUGS).join(", ")}`;

/** Parses arguments; throws an Error saying what was wrong and what is allowed. */
export function parseSimArgs(argv: string[]): SimArgs {
  const args: SimArgs = { schedules: 100, seed: 1, nodes: 3, verbose: false };
  const positiveInt = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${v ?? "nothing"}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    switch (flag) {
      case "--schedules":
        args.schedules = positiveInt(flag, argv[++i]);
        break;
      case "--seed":
        args.seed = positiveInt(flag, argv[++i]);
        break;
      case "--nodes": {
        const n = positiveInt(flag, argv[++i]);
        if (n !== 3 && n !== 5) throw new Error(`--nodes must be 3 or 5, got ${n}\n${USAGE}`);
        args.nodes = n;
        break;
      }
      case "--inject-bug": {
        const name = argv[++i] ?? "";
        if (!isBugName(name)) throw new Error(`unknown bug "${name}"\n${USAGE}`);
        args.bug = name;
        break;
      }
      case "--verbose":
        args.verbose = true;
        break;
      default:
        throw new Error(`unknown argument "${flag}"\n${USAGE}`);
    }
  }
  return args;
}

/** The outcome of a batch of schedules. */
export interface SimSummary {
  schedules: number;
  violations: number;
  failedSchedules: number;
  firstFailure?: SimResult;
  elapsedMs: number;
}

/** Runs the schedules; with a planted bug, stops at the first failing one. */
export function runSchedules(args: SimArgs, onResult?: (r: SimResult) => void): SimSummary {
  const start = performance.now();
  const summary: SimSummary = { schedules: 0, violations: 0, failedSchedules: 0, elapsedMs: 0 };
  for (let i = 0; i < args.schedules; i++) {
    const result = runSchedule({ seed: args.seed + i, nodes: args.nodes, bug: args.bug });
    summary.schedules++;
    onResult?.(result);
    if (result.violations.length > 0) {
      summary.violations += result.violations.length;
      summary.failedSchedules++;
      summary.firstFailure ??= result;
      if (args.bug) break;
    }
  }
  summary.elapsedMs = performance.now() - start;
  return summary;
}

/** The command that replays one schedule. */
export function replayCommand(seed: number, args: SimArgs): string {
  return `npm run sim -- --schedules 1 --seed ${seed} --nodes ${args.nodes}${args.bug ? ` --inject-bug ${args.bug}` : ""} --verbose`;
}

function main(): number {
  let args: SimArgs;
  try {
    args = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const summary = runSchedules(args, (r) => {
    if (args.verbose) console.log(JSON.stringify({ seed: r.seed, ticks: r.ticks, completedOps: r.completedOps, ...r.stats, violations: r.violations }));
  });
  console.log(
    `sim: schedules=${summary.schedules} nodes=${args.nodes} seed=${args.seed}${args.bug ? ` bug=${args.bug}` : ""} ` +
    `violations=${summary.violations} failed_schedules=${summary.failedSchedules} elapsed=${(summary.elapsedMs / 1000).toFixed(1)}s`,
  );
  const first = summary.firstFailure;
  if (!first) return 0;
  console.log(`first violation (seed ${first.seed}): ${first.violations[0]}`);
  console.log(`replay: ${replayCommand(first.seed, args)}`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();
