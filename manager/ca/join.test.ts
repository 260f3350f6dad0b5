import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { ServiceError } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Cluster } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { joinCluster } from "./client.ts";
import { CAError } from "./errors.ts";
import { rotateJoinToken } from "./join-token.ts";
import { newCluster, startCA } from "./testing.ts";
import type { TestCA } from "./testing.ts";
import { TlsIdentity } from "./tls-identity.ts";

let cluster: Cluster;
let ca: TestCA;

before(async () => {
  cluster = await newCluster();
  ca = await startCA(cluster);
});
after(() => ca.close());

function grpcCode(code: status, message: RegExp) {
  return (err: unknown): boolean => (err as ServiceError).code === code && message.test((err as ServiceError).details);
}

test("joining with the worker token makes a worker, with the manager token a manager, each with a fresh id", async () => {
  const worker = await joinCluster({ addr: ca.addr, token: cluster.rootCa!.joinTokens!.worker, description: { hostname: "w1", engineLabels: {} } });
  const manager = await joinCluster({ addr: ca.addr, token: cluster.rootCa!.joinTokens!.manager });
  assert.equal(worker.role, NodeRole.NODE_ROLE_WORKER);
  assert.equal(manager.role, NodeRole.NODE_ROLE_MANAGER);
  assert.equal(worker.clusterId, cluster.id);
  assert.equal(worker.caCertPem, cluster.rootCa!.caCertPem);
  assert.notEqual(worker.nodeId, manager.nodeId);
  assert.match(worker.nodeId, /^[a-z2-7]{25}$/);
  assert.deepEqual(new TlsIdentity(worker).identity, { role: "worker", nodeId: worker.nodeId, clusterId: cluster.id });
  assert.deepEqual(new TlsIdentity(manager).identity, { role: "manager", nodeId: manager.nodeId, clusterId: cluster.id });
  assert.deepEqual({ ...new X509Certificate(worker.certPem).toLegacyObject().subject }, { O: cluster.id, OU: "worker", CN: worker.nodeId });
  // The manager recorded both nodes, with what they said about themselves.
  assert.deepEqual(ca.backend.registrations.map((r) => [r.nodeId, r.role]), [[worker.nodeId, NodeRole.NODE_ROLE_WORKER], [manager.nodeId, NodeRole.NODE_ROLE_MANAGER]]);
  assert.equal(ca.backend.descriptions.get(worker.nodeId)?.hostname, "w1");
  // The key was made by the node and never sent: only the certificate came back.
  assert.ok(new X509Certificate(worker.certPem).checkPrivateKey((await import("node:crypto")).createPrivateKey(worker.keyPem)));
});

test("a wrong token is refused by the manager and registers nothing", async () => {
  const before = ca.backend.registrations.length;
  const wrong = cluster.rootCa!.joinTokens!.worker.replace(/-[a-z2-7]{25}$/, `-${"b".repeat(25)}`);
  await assert.rejects(joinCluster({ addr: ca.addr, token: wrong }), grpcCode(status.PERMISSION_DENIED, /invalid join token: it is neither/));
  assert.equal(ca.backend.registrations.length, before);
});

test("a malformed token is refused before anything is sent, with the format in the message", async () => {
  await assert.rejects(joinCluster({ addr: "127.0.0.1:1", token: "SHOAL-1-abc" }),
    (err: unknown) => err instanceof CAError && err.kind === "MALFORMED_TOKEN" && /a join token looks like SHOAL-1-<CA digest/.test(err.message));
});

test("a token is not sent to a manager whose CA does not have the digest the token pins", async () => {
  const other = await startCA(await newCluster());
  try {
    await assert.rejects(joinCluster({ addr: other.addr, token: cluster.rootCa!.joinTokens!.worker }),
      (err: unknown) => err instanceof CAError && err.kind === "CA_MISMATCH" && /presented a root CA with SHA-256 [0-9a-f]{64}, but the join token pins/.test(err.message));
    assert.equal(other.backend.registrations.length, 0, "the impostor never saw an IssueNodeCertificate call");
  } finally {
    other.close();
  }
});

test("after rotation the old token is refused and the new one works", async () => {
  const oldToken = cluster.rootCa!.joinTokens!.worker;
  ca.backend.setRootCa(rotateJoinToken(cluster.rootCa!, NodeRole.NODE_ROLE_WORKER));
  try {
    await assert.rejects(joinCluster({ addr: ca.addr, token: oldToken }), grpcCode(status.PERMISSION_DENIED, /invalid join token/));
    const joined = await joinCluster({ addr: ca.addr, token: ca.backend.cluster().rootCa!.joinTokens!.worker });
    assert.equal(joined.role, NodeRole.NODE_ROLE_WORKER);
  } finally {
    ca.backend.setRootCa(cluster.rootCa!);
  }
});
