import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { FakeStatus, fakePerTest, Ids } from "./testing.ts";

const session = fakePerTest("cluster");
const run = session.run;

test("cluster inspect: the cluster as indented JSON, never with the CA key even if a server sends it", async () => {
  for (const argv of [["inspect"], ["inspect", "--format", "json"]]) {
    const r = await run(...argv);
    assert.equal(r.code, 0, r.stderr);
    const cluster = JSON.parse(r.stdout) as { id: string; meta: { version: number }; rootCa: Record<string, unknown> };
    assert.equal(cluster.id, "c1cluster0000000000000000");
    assert.equal(cluster.meta.version, 7);
    assert.deepEqual(Object.keys(cluster.rootCa).sort(), ["caCertDigest", "caCertPem", "joinTokens"]);
    assert.doesNotMatch(r.stdout, /SECRET|PRIVATE KEY/);
    assert.match(r.stdout, /^\{\n {4}"\w+": /, "indented as docker inspect");
  }
  const table = await run("inspect", "--format", "table");
  assert.equal(table.code, 2);
  assert.match(table.stderr, /^Error: invalid format "table": must be json\n/);
});

test("cluster join-token: the command to run on the new node, with the answering manager's address", async () => {
  const r = await run("join-token", "worker");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "To add a worker to this cluster, run the following command:\n\n" +
      "    shoald --data-dir <DIR> --listen-addr <HOST:PORT> --join-addr 10.0.0.1:4242 --join-token SHOAL-1-d1gest-worker0\n\n",
  );
  assert.deepEqual(session.fake.requests("updateCluster"), []);

  // Answered by a manager that does not know its address: a placeholder, not a wrong address.
  session.fake.state.selfNodeId = Ids.WORKER9;
  assert.match((await run("join-token", "manager")).stdout, / --join-addr <MANAGER-ADDR> --join-token SHOAL-1-d1gest-manager0\n/);
});

test("cluster join-token -q prints the token only", async () => {
  const r = await run("join-token", "-q", "manager");
  assert.equal(r.stdout, "SHOAL-1-d1gest-manager0\n");
  assert.deepEqual(session.fake.requests("listNodes"), []);
});

test("cluster join-token --rotate rotates that role's token with the version read, and shows the new one", async () => {
  const r = await run("join-token", "--rotate", "worker");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Successfully rotated worker join token\.\n\nTo add a worker to this cluster, [^]* --join-token SHOAL-1-d1gest-worker1\n\n$/);
  assert.deepEqual(session.fake.requests("updateCluster"), [{ version: 7, rotateWorkerToken: true, rotateManagerToken: false, revokeOperators: [] }]);

  const quiet = await run("join-token", "manager", "--rotate", "-q");
  assert.equal(quiet.stdout, "SHOAL-1-d1gest-manager2\n");
  assert.deepEqual(session.fake.requests("updateCluster")[1], { version: 8, rotateWorkerToken: false, rotateManagerToken: true, revokeOperators: [] });

  session.fake.failures.set("updateCluster", new FakeStatus(status.ABORTED, "update out of sequence: the cluster changed since it was read"));
  const stale = await run("join-token", "--rotate", "worker");
  assert.equal(stale.code, 1);
  assert.equal(stale.stdout, "");
  assert.equal(stale.stderr, "Error: update out of sequence: the cluster changed since it was read\n");
});

test("cluster join-token takes exactly one role, worker or manager", async () => {
  const bad = await run("join-token", "admin");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^Error: invalid role "admin": must be worker or manager\n\nUsage: {2}shoal cluster join-token \[OPTIONS\] \(worker\|manager\)\n/);
  assert.match((await run("join-token")).stderr, /^Error: "shoal cluster join-token" requires exactly 1 argument\n/);
  assert.deepEqual(session.fake.calls, []);
});

test("cluster revoke-client-cert revokes every name given in one update, with the version read", async () => {
  const r = await run("revoke-client-cert", "ci-runner", "old.laptop");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Revoked the operator certificates named "ci-runner", "old.laptop": every call with one of them is refused from now on, ' +
    "and no certificate is issued under these names again.\n");
  assert.deepEqual(session.fake.requests("updateCluster"), [{ version: 7, rotateWorkerToken: false, rotateManagerToken: false, revokeOperators: ["ci-runner", "old.laptop"] }]);
  assert.deepEqual(session.fake.state.cluster.revokedOperators, ["ci-runner", "old.laptop"]);

  session.fake.failures.set("updateCluster", new FakeStatus(status.ABORTED, "update out of sequence: the cluster changed since it was read"));
  const stale = await run("revoke-client-cert", "ci-runner");
  assert.equal(stale.code, 1);
  assert.equal(stale.stdout, "");
  assert.equal(stale.stderr, "Error: update out of sequence: the cluster changed since it was read\n");
});

test("cluster revoke-client-cert needs names a certificate could carry, and sends nothing otherwise", async () => {
  const bad = await run("revoke-client-cert", "ci-runner", "no spaces");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^Error: invalid name "no spaces": use 1 to 64 letters, digits, "_", "\." or "-", starting with a letter or digit\n/);
  assert.match((await run("revoke-client-cert")).stderr, /^Error: "shoal cluster revoke-client-cert" requires at least 1 argument\n/);
  assert.deepEqual(session.fake.calls, []);
});
