// Engine benchmark: 50 containers from the same busybox image on this node, one after another
// and 10 at a time, timing "controller asked to start" to "process running" (Controller.start,
// which returns once `runc start` has exec'd the process), and prepare+start (create and start,
// the same work as a bare `runc run`). Bare `runc run -d` of the same root filesystem is timed
// in the same run for the ratio; `docker run -d` only when a Docker daemon answers.
// Prints one JSON line per figure. Usage: npm run bench:engine
import { execFile, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Controller } from "../../agent/exec/index.ts";
import { engineFixture, engineSkipReason } from "../host/fixtures/engine.ts";
import { containerSpec, makeTask } from "../host/fixtures/task.ts";

const COUNT = 50;
const CONCURRENCY = 10;
const run = promisify(execFile);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function report(what: string, mode: string, samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const p50 = percentile(s, 50);
  console.log(JSON.stringify({ bench: "engine", what, mode, n: s.length, p50_ms: +p50.toFixed(2), p99_ms: +percentile(s, 99).toFixed(2) }));
  return p50;
}

/** `runc run -d` with no pipes for the container to inherit (execFile would wait for them to close). */
function runDetached(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("runc", args, { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`runc ${args.join(" ")} exited with ${code}`))));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Runs `fn` for 0..n-1, `width` at a time; returns the per-item results. */
async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

const skip = engineSkipReason();
if (skip) {
  console.log(JSON.stringify({ bench: "engine", skipped: skip }));
  process.exit(0);
}

const fx = await engineFixture();
try {
  const ex = fx.executor();
  const spec = (): ReturnType<typeof containerSpec> => containerSpec(fx.image, { command: ["sleep", "3600"] });
  // Warm-up: pulls and unpacks the image once, as a node that already ran the service has it.
  const warm = ex.controller(makeTask(spec()));
  await warm.prepare();
  await warm.remove();

  const figures: Record<string, number> = {};
  for (const [mode, width] of [["sequential", 1], [`${CONCURRENCY} at a time`, CONCURRENCY]] as const) {
    const ctls: Controller[] = Array.from({ length: COUNT }, () => ex.controller(makeTask(spec())));
    const both = await pool(COUNT, width, async (i) => {
      const prepare = await timed(() => ctls[i]!.prepare());
      const start = await timed(() => ctls[i]!.start());
      return { prepare, start };
    });
    figures[`shoal start ${mode}`] = report("shoal Controller.start (asked to start -> process running)", mode, both.map((b) => b.start));
    figures[`shoal create ${mode}`] = report("shoal Controller.prepare+start (image present)", mode, both.map((b) => b.prepare + b.start));
    await pool(COUNT, CONCURRENCY, (i) => ctls[i]!.remove());
  }

  // Bare runc: the same root filesystem copied into a bundle, `runc run -d`.
  const image = (await ex.images.list())[0]!;
  const bundle = mkdtempSync(join(tmpdir(), "shoal-bench-bundle-"));
  const root = mkdtempSync("/run/shoal-bench-runc-");
  try {
    for (const layer of ex.images.layerDirs(image).reverse()) cpSync(layer, join(bundle, "rootfs"), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(bundle, "rootfs"), { recursive: true });
    execFileSync("runc", ["spec", "--bundle", bundle]);
    const config = JSON.parse(execFileSync("cat", [join(bundle, "config.json")], { encoding: "utf8" })) as { process: { terminal: boolean; args: string[] } };
    config.process.terminal = false;
    config.process.args = ["sleep", "3600"];
    writeFileSync(join(bundle, "config.json"), JSON.stringify(config));
    for (const [mode, width] of [["sequential", 1], [`${CONCURRENCY} at a time`, CONCURRENCY]] as const) {
      const ids = Array.from({ length: COUNT }, (_, i) => `bench-${width}-${i}`);
      const samples = await pool(COUNT, width, (i) => timed(() => runDetached(["--root", root, "run", "-d", "--bundle", bundle, ids[i]!])));
      figures[`runc ${mode}`] = report("bare runc run -d", mode, samples);
      await pool(COUNT, CONCURRENCY, (i) => run("runc", ["--root", root, "delete", "--force", ids[i]!]));
    }
  } finally {
    rmSync(bundle, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
  for (const mode of ["sequential", `${CONCURRENCY} at a time`]) {
    console.log(JSON.stringify({ bench: "engine", what: "ratio p50 shoal start / bare runc run", mode, ratio: +(figures[`shoal start ${mode}`]! / figures[`runc ${mode}`]!).toFixed(2) }));
    console.log(JSON.stringify({ bench: "engine", what: "ratio p50 shoal prepare+start / bare runc run", mode, ratio: +(figures[`shoal create ${mode}`]! / figures[`runc ${mode}`]!).toFixed(2) }));
  }
  let docker = false;
  try {
    await run("docker", ["info"], { timeout: 5000 });
    docker = true;
  } catch {
    // no daemon
  }
  if (!docker) console.log(JSON.stringify({ bench: "engine", what: "docker run -d", skipped: "no Docker daemon is running on this machine" }));
  else console.log(JSON.stringify({ bench: "engine", what: "docker run -d", skipped: "a Docker daemon runs, but pushing the test image into it is not implemented" }));
} finally {
  await fx.cleanup();
}
