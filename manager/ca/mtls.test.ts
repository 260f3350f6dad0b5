import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { Client, credentials, status } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";
import { NodeCAService } from "../../proto/gen/ca.ts";
import type { Cluster, RootCA } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { Authorizer, RpcPolicy } from "./authorize.ts";
import { callUnary, requestOperatorCertificate, requestRenewal } from "./client.ts";
import { anonymousClientCredentials, clientCredentials, CLUSTER_CHANNEL_OPTIONS, managerIdentityCheck } from "./credentials.ts";
import { createCsr } from "./csr.ts";
import { CAError } from "./errors.ts";
import { newId } from "./ids.ts";
import { CertRole } from "./identity.ts";
import { createRootCA } from "./root-ca.ts";
import { callRenew, MemoryBackend, newCluster, nodeIdOf, startCA, testBundle, testNode } from "./testing.ts";
import type { TestCA } from "./testing.ts";
import { TlsIdentity } from "./tls-identity.ts";

let cluster: Cluster;
let ca: TestCA;
let worker: TlsIdentity;

before(async () => {
  cluster = await newCluster();
  ca = await startCA(cluster);
  worker = await testNode(ca.backend, NodeRole.NODE_ROLE_WORKER);
});
after(() => ca.close());

function grpcError(code: status, message: RegExp) {
  return (err: unknown): boolean => {
    const { code: got, details } = err as ServiceError;
    assert.equal(got, code, `expected status ${status[code]}, got ${status[got]}: ${details}`);
    assert.match(details, message);
    return true;
  };
}

async function operatorIdentity(name: string): Promise<TlsIdentity> {
  return new TlsIdentity(await testBundle(cluster.rootCa!, { role: CertRole.OPERATOR, operator: name, clusterId: cluster.id }));
}

test("a connection without a client certificate reaches the join RPCs but is refused for a protected RPC", async () => {
  const anonymous = anonymousClientCredentials(cluster.rootCa!.caCertPem, cluster.id);
  const root = await callUnary(ca.addr, anonymous, NodeCAService.getRootCACertificate, {}, 5_000);
  assert.equal(root.caCertPem, cluster.rootCa!.caCertPem, "the handshake itself succeeds");
  await assert.rejects(callRenew(ca.addr, anonymous), grpcError(status.UNAUTHENTICATED, /RenewNodeCertificate needs a valid certificate of this cluster; the caller presented none/));
  // The same RPC with a certificate of the cluster goes through.
  const renewed = await requestRenewal(ca.addr, worker);
  assert.equal(renewed.role, NodeRole.NODE_ROLE_WORKER);
});

test("a client certificate from another CA is refused, even one from a CA claiming this cluster's id", async () => {
  const present = async (foreignCa: RootCA, clusterId: string): Promise<unknown> => {
    const forged = await testBundle(foreignCa, { role: CertRole.MANAGER, nodeId: newId(), clusterId });
    const creds = credentials.createSsl(Buffer.from(cluster.rootCa!.caCertPem), Buffer.from(forged.keyPem), Buffer.from(forged.certPem),
      { checkServerIdentity: managerIdentityCheck(cluster.id) });
    return callRenew(ca.addr, creds);
  };
  const otherCluster = await newCluster();
  await assert.rejects(present(otherCluster.rootCa!, otherCluster.id), grpcError(status.UNAUTHENTICATED, /needs a valid certificate of this cluster/));
  // A CA with this cluster's exact name: only the signature tells it apart. Node's TLS server
  // then drops the connection (OpenSSL's signature error surfaces on the socket), so the caller
  // sees UNAVAILABLE rather than UNAUTHENTICATED; either way nothing is served.
  await assert.rejects(present(await createRootCA(cluster.id), cluster.id), (err: unknown) => {
    const { code } = err as ServiceError;
    assert.ok(code === status.UNAUTHENTICATED || code === status.UNAVAILABLE, `refused, not ${status[code]}`);
    return true;
  });
});

test("a client does not talk to a server that is not a manager of its cluster", async () => {
  // A worker of the same cluster posing as a manager.
  const impostor = await startCA(cluster, (backend) => testNode(backend, NodeRole.NODE_ROLE_WORKER));
  // A manager of another cluster.
  const stranger = await startCA(await newCluster());
  try {
    await assert.rejects(requestRenewal(impostor.addr, worker), grpcError(status.UNAVAILABLE, /not a manager of cluster .* it presents worker node/));
    await assert.rejects(requestRenewal(stranger.addr, worker), grpcError(status.UNAVAILABLE, /self-signed certificate|unable to verify/));
  } finally {
    impostor.close();
    stranger.close();
  }
});

test("a worker certificate calling a manager-only RPC gets PERMISSION_DENIED", async () => {
  await assert.rejects(requestOperatorCertificate(ca.addr, worker, "ci"),
    grpcError(status.PERMISSION_DENIED, /IssueOperatorCertificate may be called by manager or operator certificates, not by worker node [a-z2-7]{25}/));
});

test("a removed node can call nothing, not even renew its certificate", async () => {
  const doomed = await testNode(ca.backend, NodeRole.NODE_ROLE_MANAGER);
  await requestRenewal(ca.addr, doomed);
  ca.backend.removed.add(nodeIdOf(doomed));
  await assert.rejects(requestRenewal(ca.addr, doomed), grpcError(status.PERMISSION_DENIED, /node [a-z2-7]{25} was removed from the cluster/));
  await assert.rejects(requestOperatorCertificate(ca.addr, doomed, "ci"), grpcError(status.PERMISSION_DENIED, /was removed/));
});

test("an operator certificate renews itself, and its new certificate works, but it cannot act as a node", async () => {
  const operator = await operatorIdentity("ci-runner");
  const issued = new TlsIdentity(await requestOperatorCertificate(ca.addr, operator, "ci-runner"));
  assert.deepEqual(issued.identity, { role: "operator", operator: "ci-runner", clusterId: cluster.id });
  assert.deepEqual({ ...new X509Certificate(issued.bundle.certPem).toLegacyObject().subject }, { O: cluster.id, OU: "operator", CN: "ci-runner" });
  // The new operator certificate is accepted in turn.
  await requestOperatorCertificate(ca.addr, issued, "ci-runner");
  await assert.rejects(requestRenewal(ca.addr, operator), grpcError(status.PERMISSION_DENIED, /may be called by manager or worker certificates, not by operator ci-runner/));
  await assert.rejects(requestOperatorCertificate(ca.addr, operator, "no spaces"), grpcError(status.PERMISSION_DENIED, /operator ci-runner may renew its own certificate, not get one named "no spaces"/));
});

test("an operator cannot get a certificate for another name; a manager can, for any name not revoked", async () => {
  const operator = await operatorIdentity("ci-runner");
  await assert.rejects(requestOperatorCertificate(ca.addr, operator, "admin"),
    grpcError(status.PERMISSION_DENIED, /operator ci-runner may renew its own certificate, not get one named "admin"/));
  const manager = await testNode(ca.backend, NodeRole.NODE_ROLE_MANAGER);
  assert.deepEqual(new TlsIdentity(await requestOperatorCertificate(ca.addr, manager, "admin")).identity, { role: "operator", operator: "admin", clusterId: cluster.id });
  await assert.rejects(requestOperatorCertificate(ca.addr, manager, "no spaces"), grpcError(status.INVALID_ARGUMENT, /operator name "no spaces" is not allowed/));
});

test("a revoked operator name: its certificates are refused at once, also on an open connection, and none is issued again", async () => {
  const revoked = await operatorIdentity("leaked-runner");
  const other = await operatorIdentity("still-trusted");
  const client = new Client(ca.addr, clientCredentials(revoked), CLUSTER_CHANNEL_OPTIONS);
  try {
    // Calls on one connection that stays open across the revocation.
    const m = NodeCAService.issueOperatorCertificate;
    const issue = (): Promise<void> => new Promise<void>((resolve, reject) => client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize,
      { name: "leaked-runner", csrPem: createCsr(revoked.bundle.keyPem) }, (err: ServiceError | null) => (err ? reject(err) : resolve())));
    await issue();
    ca.backend.current = { ...ca.backend.current, revokedOperators: ["leaked-runner"] };
    await assert.rejects(issue(), grpcError(status.PERMISSION_DENIED, /the certificates of operator leaked-runner were revoked/));
  } finally {
    client.close();
    ca.backend.current = { ...ca.backend.current, revokedOperators: [] };
  }
  ca.backend.current = { ...ca.backend.current, revokedOperators: ["leaked-runner"] };
  try {
    await assert.rejects(requestOperatorCertificate(ca.addr, revoked, "leaked-runner"), grpcError(status.PERMISSION_DENIED, /were revoked/));
    // A manager cannot issue the name again either; other operators are unaffected.
    const manager = await testNode(ca.backend, NodeRole.NODE_ROLE_MANAGER);
    await assert.rejects(requestOperatorCertificate(ca.addr, manager, "leaked-runner"),
      grpcError(status.PERMISSION_DENIED, /operator certificates named "leaked-runner" were revoked and are never issued again: choose another name/));
    await requestOperatorCertificate(ca.addr, other, "still-trusted");
  } finally {
    ca.backend.current = { ...ca.backend.current, revokedOperators: [] };
  }
});

test("the role policy: workers cannot call the Raft or control services, operators only the control service", async () => {
  const backend = new MemoryBackend(cluster);
  const authorizer = new Authorizer(backend);
  const callAs = (identity: TlsIdentity, path: string) => ({
    getPath: () => path,
    getAuthContext: () => ({ transportSecurityType: "ssl", sslPeerCertificate: { raw: new X509Certificate(identity.bundle.certPem).raw } as PeerCertificate }),
  });
  const manager = await testNode(backend, NodeRole.NODE_ROLE_MANAGER);
  const operator = await operatorIdentity("alice");
  const allowed = (identity: TlsIdentity, policy: readonly CertRole[]): boolean => {
    try {
      authorizer.authorize(callAs(identity, "/shoal.test/Call"), policy);
      return true;
    } catch (err) {
      assert.ok(err instanceof CAError && err.kind === "WRONG_ROLE", String(err));
      return false;
    }
  };
  const table = [worker, manager, operator].map((id) => [id.identity.role, allowed(id, RpcPolicy.raft), allowed(id, RpcPolicy.control), allowed(id, RpcPolicy.dispatcher)]);
  assert.deepEqual(table, [
    ["worker", false, false, true],
    ["manager", true, true, true],
    ["operator", false, true, false],
  ]);
  assert.deepEqual(authorizer.peerIdentity(callAs(manager, "/x")), manager.identity);
  assert.throws(() => authorizer.peerIdentity({ getPath: () => "/shoal.raft.Raft/Send", getAuthContext: () => ({}) }),
    (err: unknown) => err instanceof CAError && err.code === status.UNAUTHENTICATED && /\/shoal.raft.Raft\/Send needs a valid certificate/.test(err.message));
});
