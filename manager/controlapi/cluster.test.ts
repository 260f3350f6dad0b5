import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { makeCluster } from "../store/testing.ts";
import { controlHarness } from "./testing.ts";

test("updateCluster revokes operator names: added once each, in order, kept by later updates; a name no certificate could carry is refused", async () => {
  const h = controlHarness();
  await h.raft.store.update((tx) => tx.create("cluster", makeCluster("c1")));
  const update = async (revokeOperators: string[]) => {
    const { cluster } = await h.call("getCluster", {});
    return (await h.call("updateCluster", { version: cluster!.meta!.version, rotateWorkerToken: false, rotateManagerToken: false, revokeOperators })).cluster!;
  };
  assert.deepEqual((await update(["ci-runner", "laptop"])).revokedOperators, ["ci-runner", "laptop"]);
  assert.deepEqual((await update(["laptop", "ci-2", "ci-2"])).revokedOperators, ["ci-runner", "laptop", "ci-2"]);
  assert.deepEqual((await update([])).revokedOperators, ["ci-runner", "laptop", "ci-2"]);
  await assert.rejects(update(["ok", "not ok"]), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, /^cannot revoke operator name "not ok": no certificate carries it \(names are 1 to 64 letters/);
    return true;
  });
  assert.deepEqual((await h.call("getCluster", {})).cluster!.revokedOperators, ["ci-runner", "laptop", "ci-2"], "a refused update changes nothing");
});
