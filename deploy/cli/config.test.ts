import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { CONFIG_TIME, FakeStatus, fakePerTest, Ids } from "./testing.ts";

const session = fakePerTest("config");
const run = session.run;
let scratch: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), "shoal-config-test-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

const text = (data: Uint8Array | undefined): string => Buffer.from(data ?? new Uint8Array()).toString();

test("config create NAME FILE: sends the file's bytes and the labels, prints the new id", async () => {
  const file = join(scratch, "nginx.conf");
  writeFileSync(file, "worker_processes 2;\n");
  const r = await run("create", "--label", "app=web", "-l", "tier", "nginx", file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "cfgnew1000000000000000000\n");
  const [request] = session.fake.requests("createConfig");
  assert.deepEqual(request!.spec!.annotations, { name: "nginx", labels: { app: "web", tier: "" } });
  assert.equal(text(request!.spec!.data), "worker_processes 2;\n");
});

test("config create NAME - reads standard input, bytes as they are", async () => {
  const binary = Buffer.from([0, 1, 2, 255]);
  const r = await session.runWith({ stdin: [Buffer.from("line 1\n"), binary] }, "create", "from-stdin", "-");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(Buffer.from(session.fake.requests("createConfig")[0]!.spec!.data), Buffer.concat([Buffer.from("line 1\n"), binary]));

  const none = await run("create", "x", "-");
  assert.equal(none.code, 1);
  assert.equal(none.stderr, "Error: no standard input to read the config from\n");
});

test("config create: a missing file, a taken name and a wrong command line are reported", async () => {
  const missing = await run("create", "x", join(scratch, "nope"));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `Error: cannot read ${join(scratch, "nope")}: no such file\n`);
  assert.equal(session.fake.requests("createConfig").length, 0);

  const taken = await session.runWith({ stdin: "x" }, "create", "WEB.conf", "-");
  assert.equal(taken.code, 1);
  assert.equal(taken.stderr, 'Error: config name "WEB.conf" already exists\n');

  const usage = await run("create", "only-a-name");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^Error: "shoal config create" requires exactly 2 arguments\n\nUsage: {2}shoal config create \[OPTIONS\] CONFIG file\|-\n/);
  const badLabel = await session.runWith({ stdin: "x" }, "create", "--label", "=v", "n", "-");
  assert.equal(badLabel.code, 2);
  assert.match(badLabel.stderr, /^Error: invalid label "=v": the key is empty; use key=value\n/);
});

test("config ls: Docker's table, sorted by name, ages counted from now", async () => {
  const now = () => CONFIG_TIME + 3 * 3600_000;
  const r = await session.runWith({ now }, "ls");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "ID                          NAME       CREATED       UPDATED",
      `${Ids.APP10}   app10      3 hours ago   3 hours ago`,
      `${Ids.WEB_CONF}   web.conf   3 hours ago   3 hours ago`,
      "",
    ].join("\n"),
  );
  const later = await session.runWith({ now: () => CONFIG_TIME + 90_000 }, "list");
  assert.match(later.stdout, /app10 +About a minute ago +30 seconds ago\n/);
});

test("config ls -q prints ids; --format json one object per line", async () => {
  assert.equal((await run("ls", "-q")).stdout, `${Ids.APP10}\n${Ids.WEB_CONF}\n`);
  const lines = (await run("ls", "--format", "json")).stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(lines[1], {
    ID: Ids.WEB_CONF, Name: "web.conf", CreatedAt: "2025-01-02T03:04:05.000Z", UpdatedAt: "2025-01-02T03:05:05.000Z", Labels: "app=web,tier=front",
  });
  const bad = await run("ls", "--format", "yaml");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^Error: invalid format "yaml": must be table or json\n/);
});

test("config inspect: a JSON array of the configs named by name, id or id prefix, data in base64", async () => {
  const r = await run("inspect", "web.conf", Ids.APP10, "cfgw");
  assert.equal(r.code, 0, r.stderr);
  const shown = JSON.parse(r.stdout) as { id: string; spec: { data: string; annotations: { name: string } } }[];
  assert.deepEqual(shown.map((c) => c.id), [Ids.WEB_CONF, Ids.APP10, Ids.WEB_CONF]);
  assert.equal(shown[0]!.spec.data, Buffer.from("listen 80;\n").toString("base64"));
  assert.ok(r.stdout.startsWith('[\n    {\n        "id": "cfgweb'), "indented as docker inspect");
  assert.deepEqual(session.fake.requests("getConfig"), [{ config: "web.conf" }, { config: Ids.APP10 }, { config: "cfgw" }]);

  const partly = await run("inspect", "nope", "cfg", "app10");
  assert.equal(partly.code, 1);
  assert.equal(partly.stderr, "Error: config nope not found\nError: config cfg is ambiguous (2 matches)\n");
  assert.deepEqual((JSON.parse(partly.stdout) as { id: string }[]).map((c) => c.id), [Ids.APP10]);
});

test("config inspect --pretty: labelled fields, then the data as text", async () => {
  const r = await run("inspect", "--pretty", "web.conf");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      `ID:          ${Ids.WEB_CONF}`,
      "Name:        web.conf",
      "Labels:",
      " - app=web",
      " - tier=front",
      "Created at:  2025-01-02T03:04:05.000Z",
      "Updated at:  2025-01-02T03:05:05.000Z",
      "Data:",
      "listen 80;",
      "",
    ].join("\n"),
  );
});

test("config rm: removes by resolved id, prints each name, goes on past failures", async () => {
  const r = await run("rm", "nope", "web.conf");
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "web.conf\n");
  assert.equal(r.stderr, "Error: config nope not found\n");
  assert.deepEqual(session.fake.requests("removeConfig"), [{ configId: Ids.WEB_CONF }]);

  session.fake.failures.set("removeConfig", new FakeStatus(status.UNAVAILABLE, "no leader is elected right now; retry shortly"));
  const refused = await run("remove", "app10");
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, "Error: no leader is elected right now; retry shortly\n");
  assert.deepEqual(session.fake.state.configs.map((c) => c.id), [Ids.APP10]);
});
