import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { Cluster } from "../../proto/gen/objects.ts";
import { Authorizer, RpcPolicy } from "./authorize.ts";
import type { CAError } from "./errors.ts";
import { CertRole } from "./identity.ts";
import { newCluster, startCA, testBundle, testKey, testNode } from "./testing.ts";
import { TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { NodeCAService } from "../../proto/gen/ca.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { CLUSTER_CHANNEL_OPTIONS, clientCredentials } from "./credentials.ts";
import { createCsr } from "./csr.ts";
import type { AuthorizableCall } from "./authorize.ts";

function callWith(certPem: string): AuthorizableCall {
  const raw = new X509Certificate(certPem).raw;
  return { getAuthContext: () => ({ sslPeerCertificate: { raw } }), getPath: () => "/shoal.control.Control/GetCluster" } as unknown as AuthorizableCall;
}

test("a verified certificate is remembered, but never trusted under another root or cluster", async () => {
  const clusterA = await newCluster();
  const clusterB = await newCluster();
  const bundle = await testBundle(clusterA.rootCa!, { role: CertRole.MANAGER, nodeId: "n1", clusterId: clusterA.id });
  let current: Cluster = clusterA;
  const removed = new Set<string>();
  const authz = new Authorizer({ cluster: () => current, isRemoved: (id) => removed.has(id) });
  const call = callWith(bundle.certPem);
  for (let i = 0; i < 3; i++) assert.equal(authz.authorize(call, RpcPolicy.control).role, CertRole.MANAGER);
  // The removal check runs on every call, remembered certificate or not.
  removed.add("n1");
  assert.throws(() => authz.authorize(call, RpcPolicy.control), /was removed from the cluster/);
  removed.clear();
  // Another root (a different cluster behind the same authorizer): the memory does not apply.
  current = clusterB;
  assert.throws(() => authz.authorize(call, RpcPolicy.control), /not issued by this cluster's CA/);
  current = clusterA;
  assert.equal(authz.authorize(call, RpcPolicy.control).role, CertRole.MANAGER);
});

test("a revoked operator is refused on every call, its certificate remembered or not; other operators and nodes are not", async () => {
  const cluster = await newCluster();
  let current: Cluster = cluster;
  const authz = new Authorizer({ cluster: () => current, isRemoved: () => false });
  const ci = callWith((await testBundle(cluster.rootCa!, { role: CertRole.OPERATOR, operator: "ci", clusterId: cluster.id })).certPem);
  const alice = callWith((await testBundle(cluster.rootCa!, { role: CertRole.OPERATOR, operator: "alice", clusterId: cluster.id })).certPem);
  const manager = callWith((await testBundle(cluster.rootCa!, { role: CertRole.MANAGER, nodeId: "ci", clusterId: cluster.id })).certPem);
  assert.equal(authz.authorize(ci, RpcPolicy.control).role, CertRole.OPERATOR);
  current = { ...cluster, revokedOperators: ["ci"] };
  assert.throws(() => authz.authorize(ci, RpcPolicy.control), (err: CAError) => {
    assert.equal(err.kind, "REVOKED");
    assert.equal(err.message, "the certificates of operator ci were revoked; /shoal.control.Control/GetCluster is refused");
    return true;
  });
  assert.equal(authz.authorize(alice, RpcPolicy.control).role, CertRole.OPERATOR);
  // A node whose id is the same string is not an operator: revocation does not touch it.
  assert.equal(authz.authorize(manager, RpcPolicy.control).role, CertRole.MANAGER);
});

test("over a real connection, the certificate is read once per connection, not once per call", async () => {
  const cluster = await newCluster();
  const ca = await startCA(cluster);
  const worker = await testNode(ca.backend, NodeRole.NODE_ROLE_WORKER);
  const client = new grpc.Client(ca.addr, clientCredentials(worker), CLUSTER_CHANNEL_OPTIONS);
  const original = TLSSocket.prototype.getPeerCertificate;
  let reads = 0;
  TLSSocket.prototype.getPeerCertificate = function (this: TLSSocket, ...args: [boolean?]) {
    reads++;
    return original.apply(this, args as [true]);
  } as typeof original;
  try {
    const m = NodeCAService.renewNodeCertificate;
    const renew = async (): Promise<void> => {
      const csrPem = createCsr(await testKey());
      await new Promise<void>((resolve, reject) => client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { csrPem },
        (err: grpc.ServiceError | null) => (err ? reject(err) : resolve())));
    };
    await renew();
    const afterFirst = reads;
    for (let i = 0; i < 5; i++) await renew();
    assert.ok(afterFirst >= 1, "the first call read the certificate");
    assert.equal(reads, afterFirst, "later calls on the same connection did not read it again");
  } finally {
    TLSSocket.prototype.getPeerCertificate = original;
    client.close();
    ca.close();
  }
});
