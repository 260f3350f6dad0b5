import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FakeControl, shoal } from "./testing.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

/** Runs `bin/shoal` of `root` with `args`; its output and exit code. */
async function bin(root: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(root, "bin", "shoal"), args, { env: { PATH: process.env.PATH } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("bin/shoal answers as the CLI's sources do, over a socket too, and leaves its bundle in node_modules/.cache", async () => {
  for (const args of [["--version"], ["--help"], ["cluster", "--help"], ["node", "ls", "--filter", "bad"]]) {
    assert.deepEqual(await bin(ROOT, args), await shoal(args), args.join(" "));
  }
  const fake = new FakeControl();
  try {
    const host = await fake.listenUnix();
    const got = await bin(ROOT, ["-H", host, "node", "ls", "-q"]);
    assert.deepEqual(got, await shoal(["-H", host, "node", "ls", "-q"]));
    assert.equal(got.code, 0, got.stderr);
  } finally {
    fake.close();
  }
  assert.ok(statSync(join(ROOT, "node_modules", ".cache", "shoal-cli", "shoal.mjs")).size > 0);
});

// A tree laid out as the repository, with a CLI that prints where it runs from and a version.
let tree: string;
before(() => {
  tree = mkdtempSync(join(tmpdir(), "shoal-bin-"));
  mkdirSync(join(tree, "bin"));
  copyFileSync(join(ROOT, "bin", "shoal"), join(tree, "bin", "shoal"));
  mkdirSync(join(tree, "deploy"));
  mkdirSync(join(tree, "node_modules", ".bin"), { recursive: true });
  for (const pkg of ["esbuild", "tsx"]) symlinkSync(join(ROOT, "node_modules", pkg), join(tree, "node_modules", pkg));
  symlinkSync("../esbuild/bin/esbuild", join(tree, "node_modules", ".bin", "esbuild"));
  writeFileSync(join(tree, "package.json"), "{}");
});
after(() => rmSync(tree, { recursive: true, force: true }));

/** Writes the tree's CLI, printing `version`, dated `secondsAgo` in the past. */
function writeCli(version: string, secondsAgo = 0): void {
  const file = join(tree, "deploy", "shoal.ts");
  writeFileSync(file, `const from: string = import.meta.url.endsWith(".mjs") ? "bundle" : "sources";\nconsole.log(from, ${JSON.stringify(version)});\n`);
  const when = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(file, when, when);
}

test("bin/shoal makes its bundle on the first run, keeps it while nothing changed, remakes it when a source is newer, and runs the sources when it cannot", async () => {
  const bundle = join(tree, "node_modules", ".cache", "shoal-cli", "shoal.mjs");
  writeCli("v1", 60);
  assert.equal((await bin(tree, [])).stdout, "bundle v1\n");
  const made = statSync(bundle).mtimeMs;
  assert.equal((await bin(tree, [])).stdout, "bundle v1\n");
  assert.equal(statSync(bundle).mtimeMs, made, "not made again while nothing changed");

  writeCli("v2");
  assert.equal((await bin(tree, [])).stdout, "bundle v2\n");
  assert.ok(statSync(bundle).mtimeMs > made, "made again");

  // A source newer than the bundle and no way to bundle it: the sources run, not the old bundle.
  unlinkSync(join(tree, "node_modules", ".bin", "esbuild"));
  writeCli("v3");
  assert.equal((await bin(tree, [])).stdout, "sources v3\n");
});
