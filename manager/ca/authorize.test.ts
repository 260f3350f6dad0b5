import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { Cluster } from "../../proto/gen/objects.ts";
import { Authorizer, RpcPolicy } from "./authorize.ts";
import { CertRole } from "./identity.ts";
import { newCluster, testBundle } from "./testing.ts";
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
