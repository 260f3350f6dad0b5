/**
 * `npm run bench:cli`: how long one `shoal` command takes, start to exit, as a CI pipeline that
 * runs many of them pays it: `shoal node ls -q` against a one-manager cluster of the local lab
 * (its unix socket), BENCH_CLI_RUNS times (default 20) after two unmeasured runs, run three ways:
 * `bin/shoal` (the bundle it keeps in node_modules/.cache, see bin/shoal), the sources through
 * tsx (how bin/shoal ran before 2026-12-08), and, when `docker` is on the PATH, `docker
 * --version` (Docker's CLI starting and exiting, without a daemon to ask; otherwise a line says
 * it was skipped and why). One JSON line per way with the p50, p90 and longest wall time, then
 * the ratio of the p50s (bundle / tsx, bundle / docker). Everything started is stopped and
 * removed, also on failure or Ctrl-C.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ProcessCluster } from "../../deploy/lab/lab.ts";
import { cleanUpOnInterrupt } from "./interrupt.ts";
import { quantile, ratio } from "./load.ts";
import { programMissing } from "./programs.ts";

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 20);
const WARMUP_RUNS = 2;
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** One way of running a command: a program and its arguments. */
interface Way {
  name: string;
  file: string;
  args: string[];
}

/** Wall times of `RUNS` runs of `way`, in ms, sorted, after the warm-up runs. */
async function time(way: Way): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP_RUNS + RUNS; i++) {
    const t0 = performance.now();
    await run(way.file, way.args);
    if (i >= WARMUP_RUNS) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

const cluster = new ProcessCluster();
cleanUpOnInterrupt(() => cluster.close());
try {
  const m1 = await cluster.init("m1");
  const host = ["-H", `unix://${m1.socket}`, "node", "ls", "-q"];
  const ways: Way[] = [
    { name: "bin/shoal (bundle)", file: `${ROOT}bin/shoal`, args: host },
    { name: "sources through tsx", file: process.execPath, args: ["--import", "tsx", `${ROOT}deploy/shoal.ts`, ...host] },
  ];
  const dockerMissing = programMissing("docker", "Docker's CLI is compared when it is installed");
  if (dockerMissing) console.log(JSON.stringify({ bench: "cli-start", way: "docker --version", skipped: dockerMissing }));
  else ways.push({ name: "docker --version", file: "docker", args: ["--version"] });
  const p50 = new Map<string, number>();
  for (const way of ways) {
    const times = await time(way);
    p50.set(way.name, quantile(times, 0.5));
    console.log(JSON.stringify({
      bench: "cli-start", way: way.name, runs: RUNS,
      p50_ms: Math.round(quantile(times, 0.5)), p90_ms: Math.round(quantile(times, 0.9)), max_ms: Math.round(times[times.length - 1]!),
    }));
  }
  const bundle = p50.get(ways[0]!.name)!;
  console.log(JSON.stringify({
    bench: "cli-start", ratio: "p50",
    bundle_over_tsx: ratio(bundle, p50.get(ways[1]!.name)!),
    ...(ways[2] ? { bundle_over_docker: ratio(bundle, p50.get(ways[2].name)!) } : {}),
  }));
} finally {
  await cluster.close();
}
