import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { ParsedFlags } from "./args.ts";
import { DEFAULT_HOST, resolveEndpoint } from "./connection.ts";
import { FakeControl, FakeStatus, Ids, shoal } from "./testing.ts";

let fake: FakeControl;
let host: string;
let scratch: string;

before(async () => {
  fake = new FakeControl();
  host = await fake.listenUnix();
  scratch = mkdtempSync(join(tmpdir(), "shoal-cli-test-"));
});
after(() => {
  fake.close();
  rmSync(scratch, { recursive: true, force: true });
});

test("no arguments, --help and -h print the program's help on stdout and exit 0", async () => {
  for (const argv of [[], ["--help"], ["-h"]]) {
    const r = await shoal(argv);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^Usage: {2}shoal \[OPTIONS\] COMMAND\n/);
    assert.match(r.stdout, /\n {2}node {6}Manage cluster nodes\n/);
    assert.match(r.stdout, /-H, --host string/);
    assert.match(r.stdout, /SHOAL_CERT_PATH/);
  }
});

test("a group's help lists its commands; a command's help lists its options; neither connects", async () => {
  const calls = fake.calls.length;
  const group = await shoal(["node", "--help"]);
  assert.equal(group.code, 0);
  assert.match(group.stdout, /^Usage: {2}shoal node COMMAND\n/);
  for (const name of ["ls", "inspect", "update", "promote", "demote", "rm"]) assert.match(group.stdout, new RegExp(`\n  ${name} +\\S`));
  assert.equal((await shoal(["cluster"])).stdout, (await shoal(["cluster", "-h"])).stdout);

  const command = await shoal(["node", "update", "--help"]);
  assert.equal(command.code, 0);
  assert.match(command.stdout, /^Usage: {2}shoal node update \[OPTIONS\] NODE\n\nUpdate a node\n/);
  assert.match(command.stdout, /--availability string +Availability of the node \(active\|pause\|drain\)/);
  assert.match((await shoal(["node", "ls", "-h"])).stdout, /Aliases:\n {2}ls, list\n/);
  assert.equal(fake.calls.length, calls);
});

test("version and --version", async () => {
  for (const argv of [["version"], ["--version"], ["-v"]]) {
    const r = await shoal(argv);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^shoal version \d+\.\d+\.\d+ \(Node\.js v\d+/);
  }
});

test("an unknown command is a usage error (exit 2) followed by the commands there are", async () => {
  const top = await shoal(["nodes", "ls"]);
  assert.equal(top.code, 2);
  assert.equal(top.stdout, "");
  assert.match(top.stderr, /^Error: unknown command "nodes" for "shoal"\n\nUsage: {2}shoal \[OPTIONS\] COMMAND\n/);

  const sub = await shoal(["node", "list-all"]);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /^Error: unknown command "list-all" for "shoal node"\n\nUsage: {2}shoal node COMMAND\n[^]*\n {2}promote /);

  const flagFirst = await shoal(["node", "-q", "ls"]);
  assert.equal(flagFirst.code, 2);
  assert.match(flagFirst.stderr, /^Error: "shoal node" takes a command before any flag, not -q\n/);
});

test("a bad flag or argument count is a usage error with the command's usage", async () => {
  const flag = await shoal(["-H", host, "node", "ls", "--bogus"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^Error: unknown flag: --bogus\n\nUsage: {2}shoal node ls \[OPTIONS\]\n[^]*-q, --quiet/);

  const cases: [string[], string][] = [
    [["node", "ls", "extra"], '"shoal node ls" accepts no arguments'],
    [["node", "update", "--availability", "drain"], '"shoal node update" requires exactly 1 argument'],
    [["node", "update", "--availability", "drain", "a", "b"], '"shoal node update" requires exactly 1 argument'],
    [["node", "inspect"], '"shoal node inspect" requires at least 1 argument'],
    [["node", "ls", "--format"], "flag needs an argument: --format"],
  ];
  for (const [argv, message] of cases) {
    const r = await shoal(["-H", host, ...argv]);
    assert.equal(r.code, 2, argv.join(" "));
    assert.ok(r.stderr.startsWith(`Error: ${message}\n\nUsage:  shoal node `), r.stderr);
  }
});

test("SHOAL_HOST names the daemon; -H, before or after the command, overrides it", async () => {
  const missing = `unix://${join(scratch, "none.sock")}`;
  assert.equal((await shoal(["node", "ls", "-q"], { SHOAL_HOST: host })).code, 0);
  for (const argv of [["-H", host, "node", "ls", "-q"], ["node", "ls", "-q", "-H", host], ["--host=" + host, "node", "ls", "-q"]]) {
    const r = await shoal(argv, { SHOAL_HOST: missing });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split("\n")[0], Ids.LEADER);
  }
  const r = await shoal(["node", "ls"], { SHOAL_HOST: missing });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, new RegExp(`^Error: cannot connect to shoald at ${missing}: connect ENOENT \\S+none\\.sock \\(is shoald running there\\? -H or SHOAL_HOST names another\\)\\n$`));
});

test("without -H or SHOAL_HOST the daemon's default socket is used (an empty SHOAL_HOST counts as unset)", () => {
  assert.equal(DEFAULT_HOST, "unix:///var/lib/shoal/shoald.sock");
  for (const env of [{}, { SHOAL_HOST: "" }]) {
    const endpoint = resolveEndpoint(new ParsedFlags(), env);
    assert.equal(endpoint.host, DEFAULT_HOST);
    assert.equal(endpoint.target, DEFAULT_HOST);
  }
});

test("hosts that cannot be used are usage errors saying what can", async () => {
  for (const bad of ["http://x:1", "/var/lib/shoal/shoald.sock", "unix://relative.sock", "tcp://10.0.0.1", "tcp://10.0.0.1:4242/path"]) {
    const r = await shoal(["-H", bad, "node", "ls"]);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, new RegExp(`^Error: invalid host "${bad.replaceAll("/", "\\/")}": [^\\n]+; use unix:///path/to/shoald\\.sock or tcp://HOST:PORT\\n`));
  }
});

test("a server error is printed as `Error: <details>` with exit 1; a daemon that cannot be reached stops a multi-node command", async () => {
  fake.failures.set("getCluster", new FakeStatus(status.UNAVAILABLE, "no leader: 1 of 3 managers reachable"));
  try {
    const r = await shoal(["-H", host, "cluster", "inspect"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "Error: no leader: 1 of 3 managers reachable\n");
  } finally {
    fake.failures.clear();
  }
  const down = await shoal(["-H", `unix://${join(scratch, "gone.sock")}`, "node", "rm", "a", "b", "c"]);
  assert.equal(down.code, 1);
  assert.equal(down.stderr.split("\n").filter(Boolean).length, 1, down.stderr);
});
