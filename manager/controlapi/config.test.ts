import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import type { ConfigSpec } from "../../proto/gen/specs.ts";
import { controlHarness } from "./testing.ts";
import { MAX_CONFIG_BYTES } from "./validate.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function spec(name: string, data: Uint8Array = bytes("port: 80\n"), labels: Record<string, string> = {}): ConfigSpec {
  return { annotations: { name, labels }, data };
}

/** Asserts that `promise` rejects with gRPC `code` and a message matching `message`. */
async function rejectsWith(promise: Promise<unknown>, code: grpc.status, message: RegExp | string): Promise<void> {
  await assert.rejects(promise, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
    if (typeof message === "string") assert.equal(err.details, message);
    else assert.match(err.details, message);
    return true;
  });
}

test("create, get (by id, name in any case, id prefix), list and remove a config", async () => {
  const h = controlHarness();
  const { config } = await h.call("createConfig", { spec: spec("nginx.conf", bytes("worker_processes 1;"), { app: "web" }) });
  assert.ok(config);
  assert.match(config.id, /^[a-z2-7]{25}$/);
  assert.equal(config.meta?.version, 1);
  assert.equal(Buffer.from(config.spec!.data).toString(), "worker_processes 1;");
  assert.deepEqual(config.spec?.annotations, { name: "nginx.conf", labels: { app: "web" } });

  for (const ref of [config.id, "nginx.conf", "NGINX.CONF", config.id.slice(0, 6)]) {
    assert.equal((await h.call("getConfig", { config: ref })).config?.id, config.id, ref);
  }
  const other = (await h.call("createConfig", { spec: spec("other") })).config!;
  assert.deepEqual((await h.call("listConfigs", {})).configs.map((c) => c.spec?.annotations?.name).sort(), ["nginx.conf", "other"]);

  await h.call("removeConfig", { configId: config.id });
  await rejectsWith(h.call("getConfig", { config: "nginx.conf" }), grpc.status.NOT_FOUND, "config nginx.conf not found");
  assert.deepEqual((await h.call("listConfigs", {})).configs.map((c) => c.id), [other.id]);
  await rejectsWith(h.call("removeConfig", { configId: config.id }), grpc.status.NOT_FOUND, `config ${config.id} not found`);
  await rejectsWith(h.call("removeConfig", { configId: "" }), grpc.status.INVALID_ARGUMENT, "a config id is required");
  await rejectsWith(h.call("getConfig", { config: "" }), grpc.status.INVALID_ARGUMENT, "a config id, name or id prefix is required");
});

test("a name is taken once, whatever its case, until the config is removed", async () => {
  const h = controlHarness();
  const first = (await h.call("createConfig", { spec: spec("app") })).config!;
  for (const name of ["app", "APP"]) {
    await rejectsWith(h.call("createConfig", { spec: spec(name) }), grpc.status.ALREADY_EXISTS, `config name "${name}" already exists`);
  }
  await h.call("removeConfig", { configId: first.id });
  assert.equal((await h.call("createConfig", { spec: spec("APP") })).config?.spec?.annotations?.name, "APP");
  assert.equal(h.raft.log.length, 3, "refused creates never reach the log");
});

test("two creates of one name committed together: the log decides, and the loser gets the same error", async () => {
  const h = controlHarness({ delivery: "async" });
  const [a, b] = await Promise.allSettled([h.call("createConfig", { spec: spec("race") }), h.call("createConfig", { spec: spec("race") })]);
  assert.equal(h.raft.maxInFlight, 2, "both were staged before either committed");
  assert.equal(a.status, "fulfilled");
  assert.ok(b.status === "rejected");
  assert.equal((b.reason as grpc.ServiceError).code, grpc.status.ALREADY_EXISTS);
  assert.equal((b.reason as grpc.ServiceError).details, 'config name "race" already exists');
});

test("specs are checked by Docker's rules, with messages that say what is wrong", async () => {
  const h = controlHarness();
  const nameRule = "only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]";
  const refused: [ConfigSpec | undefined, string][] = [
    [undefined, "a config spec is required"],
    [spec(""), "a config name is required"],
    [{ data: bytes("x") }, "a config name is required"],
    [spec("-lead"), `invalid config name "-lead": ${nameRule}`],
    [spec("trail."), `invalid config name "trail.": ${nameRule}`],
    [spec("has space"), `invalid config name "has space": ${nameRule}`],
    [spec("a/b"), `invalid config name "a/b": ${nameRule}`],
    [spec("x".repeat(65)), `invalid config name "${"x".repeat(65)}": ${nameRule}`],
    [spec("empty", new Uint8Array()), "config data must be at least 1 byte and at most 500 KiB (512000 bytes); got 0 bytes"],
    [spec("big", new Uint8Array(MAX_CONFIG_BYTES + 1)), "config data must be at least 1 byte and at most 500 KiB (512000 bytes); got 512001 bytes"],
    [spec("labels", bytes("x"), { " ": "v" }), "label keys must not be empty"],
  ];
  for (const [s, message] of refused) await rejectsWith(h.call("createConfig", { spec: s }), grpc.status.INVALID_ARGUMENT, message);
  assert.equal(h.raft.log.length, 0);

  for (const name of ["a", "A-b_c.d", "x".repeat(64), "9"]) await h.call("createConfig", { spec: spec(name) });
  await h.call("createConfig", { spec: spec("max", new Uint8Array(MAX_CONFIG_BYTES)) });
  assert.equal(h.raft.log.length, 5);
});

test("an id prefix that several configs share is refused, naming them", async () => {
  const h = controlHarness();
  // Ids are random base32: among 33 of them, two share a first character.
  const byFirst = new Map<string, string[]>();
  let shared: string[] | undefined;
  for (let i = 0; !shared; i++) {
    const id = (await h.call("createConfig", { spec: spec(`c${i}`) })).config!.id;
    const same = [...(byFirst.get(id[0]!) ?? []), id];
    byFirst.set(id[0]!, same);
    if (same.length === 2) shared = same;
  }
  const prefix = shared[0]![0]!;
  await rejectsWith(h.call("getConfig", { config: prefix }), grpc.status.FAILED_PRECONDITION, `config ${prefix} is ambiguous (2 matches: ${shared.join(", ")})`);
});

test("a follower passes writes and reads of configs to the leader", async () => {
  const h = controlHarness({ leader: false });
  await rejectsWith(h.call("createConfig", { spec: spec("x") }), grpc.status.UNAVAILABLE, /forwarded in a test/);
  await assert.rejects(h.call("getConfig", { config: "x" }));
  await assert.rejects(h.call("listConfigs", {}));
  await assert.rejects(h.call("removeConfig", { configId: "id" }));
  assert.deepEqual(h.forwarded.map((c) => c.path), [
    ControlService.createConfig.path, ControlService.getConfig.path, ControlService.listConfigs.path, ControlService.removeConfig.path,
  ]);
  assert.deepEqual(h.forwarded[0]!.request, { spec: spec("x") });
  assert.equal(h.raft.log.length, 0);
});
