// The OCI config built from a task spec and an image config, as Docker would merge them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerSpec } from "../../../test/host/fixtures/task.ts";
import { isExecError } from "../../exec/errors.ts";
import { capabilities, DEFAULT_CAPABILITIES, processArgs, processEnv, runtimeConfig } from "./bundle.ts";

describe("bundle", () => {
  const image = { Entrypoint: ["/entry"], Cmd: ["default"], Env: ["PATH=/img/bin", "A=image"] };

  it("merges command, args and environment as Docker does", () => {
    assert.deepEqual(processArgs(containerSpec("i"), image), ["/entry", "default"]);
    assert.deepEqual(processArgs(containerSpec("i", { args: ["x"] }), image), ["/entry", "x"]);
    assert.deepEqual(processArgs(containerSpec("i", { command: ["sh"], args: ["-c", "y"] }), image), ["sh", "-c", "y"]);
    assert.throws(() => processArgs(containerSpec("i"), {}), (e: unknown) => isExecError(e, "invalid-spec"));
    const env = processEnv(containerSpec("i", { env: ["A=task", "B=2"] }), image, "h", "/root");
    assert.deepEqual(env, ["PATH=/img/bin", "HOSTNAME=h", "A=task", "B=2", "HOME=/root"]);
  });

  it("adds and drops capabilities, ALL included", () => {
    assert.ok(capabilities(["NET_ADMIN"], ["chown"]).includes("CAP_NET_ADMIN"));
    assert.ok(!capabilities([], ["CAP_CHOWN"]).includes("CAP_CHOWN"));
    assert.deepEqual(capabilities(["NET_ADMIN"], ["ALL"]), ["CAP_NET_ADMIN"]);
    assert.equal(capabilities([], []).length, DEFAULT_CAPABILITIES.length);
    assert.throws(() => capabilities(["BOGUS"], []), /unknown capability/);
  });

  it("sets limits, namespaces, read-only root and no-new-privileges", () => {
    const spec = containerSpec("i", { readOnly: true });
    const cfg = runtimeConfig({ spec, limits: { nanoCpus: 5e8, memoryBytes: 1 << 26, pids: 64 }, image, args: ["a"], env: [], cwd: "/", user: { uid: 1, gid: 2 }, hostname: "h", rootfs: "/r", cgroupsPath: "/shoal/x", mounts: [] });
    assert.deepEqual(cfg.linux.resources.cpu, { quota: 50_000, period: 100_000 });
    assert.deepEqual(cfg.linux.resources.memory, { limit: 1 << 26, swap: 1 << 26 });
    assert.deepEqual(cfg.linux.resources.pids, { limit: 64 });
    assert.ok(cfg.linux.namespaces.some((n) => n.type === "network"));
    assert.equal(cfg.root.readonly, true);
    assert.equal(cfg.process.noNewPrivileges, true);
  });
});
