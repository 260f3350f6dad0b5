/**
 * Test fixtures for the CA: an in-memory backend, a NodeCA server on 127.0.0.1 presenting a
 * manager certificate, and certificates made with one shared key (a certificate's identity does
 * not depend on which key it binds, so sharing keys across test identities weakens nothing and
 * saves an RSA key generation per identity).
 */
import { Server } from "@grpc/grpc-js";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { NodeCAService } from "../../proto/gen/ca.ts";
import type { Cluster, NodeDescription, RootCA } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { callUnary } from "./client.ts";
import { serverCredentials } from "./credentials.ts";
import { createCsr } from "./csr.ts";
import { newId } from "./ids.ts";
import { CertRole } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";
import { generateKeyPem } from "./keys.ts";
import { createRootCA } from "./root-ca.ts";
import { createNodeCAService } from "./service.ts";
import type { CABackend, NodeRegistration } from "./service.ts";
import { DEFAULT_NODE_CERT_VALIDITY_MS, issueCertificate } from "./signer.ts";
import type { TlsBundle } from "./signer.ts";
import { TlsIdentity } from "./tls-identity.ts";

/** A cluster with a fresh root CA; `certExpiryMs` sets the validity of the certificates it issues. */
export async function newCluster(certExpiryMs = 0): Promise<Cluster> {
  const id = newId();
  return { id, spec: { caConfig: { nodeCertExpiryMs: certExpiryMs } }, rootCa: await createRootCA(id), removedNodes: [], revokedOperators: [] };
}

/** A CABackend over maps, recording every call. */
export class MemoryBackend implements CABackend {
  /** Node id → desired role. */
  readonly nodes = new Map<string, NodeRole>();
  readonly descriptions = new Map<string, NodeDescription | undefined>();
  readonly removed = new Set<string>();
  /** Every registration, in order. */
  readonly registrations: NodeRegistration[] = [];

  constructor(public current: Cluster) {}

  cluster(): Cluster {
    return this.current;
  }

  isRemoved(nodeId: string): boolean {
    return this.removed.has(nodeId);
  }

  async registerNode(node: NodeRegistration): Promise<void> {
    if (this.nodes.has(node.nodeId) || this.removed.has(node.nodeId)) throw new Error(`node id ${node.nodeId} was used before`);
    this.registrations.push(node);
    this.nodes.set(node.nodeId, node.role);
    this.descriptions.set(node.nodeId, node.description);
  }

  nodeRole(nodeId: string): NodeRole | undefined {
    return this.nodes.get(nodeId);
  }

  /** Replaces the root CA (join tokens included). */
  setRootCa(rootCa: RootCA): void {
    this.current = { ...this.current, rootCa };
  }
}

let sharedKey: Promise<string> | undefined;

/** One RSA key for every test certificate of a process. */
export function testKey(): Promise<string> {
  sharedKey ??= generateKeyPem();
  return sharedKey;
}

/** A certificate for `identity` from `rootCa`, on the shared test key. */
export async function testBundle(rootCa: RootCA, identity: CertIdentity, validityMs = DEFAULT_NODE_CERT_VALIDITY_MS): Promise<TlsBundle> {
  const keyPem = await testKey();
  return { caCertPem: rootCa.caCertPem, certPem: issueCertificate(rootCa, createCsr(keyPem), identity, validityMs), keyPem };
}

/** A node of `backend`'s cluster with role `role`, known to the backend, and its identity. */
export async function testNode(backend: MemoryBackend, role: NodeRole, validityMs?: number): Promise<TlsIdentity> {
  const nodeId = newId();
  backend.nodes.set(nodeId, role);
  const certRole = role === NodeRole.NODE_ROLE_MANAGER ? CertRole.MANAGER : CertRole.WORKER;
  const cluster = backend.cluster();
  return new TlsIdentity(await testBundle(cluster.rootCa!, { role: certRole, nodeId, clusterId: cluster.id }, validityMs));
}

/** The node id of a node identity. */
export function nodeIdOf(identity: TlsIdentity): string {
  const id = identity.identity;
  if (id.role === CertRole.OPERATOR) throw new Error("an operator has no node id");
  return id.nodeId;
}

/** A running NodeCA server. */
export interface TestCA {
  /** host:port of the server. */
  addr: string;
  backend: MemoryBackend;
  /** The identity the server presents (a manager of the backend's cluster). */
  manager: TlsIdentity;
  /** Stops the server at once. */
  close(): void;
}

/** Serves NodeCA for `cluster` on an ephemeral port of 127.0.0.1 with mutual-TLS credentials. */
export async function startCA(cluster: Cluster, serverIdentity?: (backend: MemoryBackend) => Promise<TlsIdentity>): Promise<TestCA> {
  const backend = new MemoryBackend(cluster);
  const manager = await (serverIdentity ?? ((b: MemoryBackend) => testNode(b, NodeRole.NODE_ROLE_MANAGER)))(backend);
  const server = new Server();
  server.addService(NodeCAService, createNodeCAService(backend));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", serverCredentials(manager), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { addr: `127.0.0.1:${port}`, backend, manager, close: () => server.forceShutdown() };
}

/** Calls RenewNodeCertificate with arbitrary credentials: a protected RPC, for refusal tests. */
export async function callRenew(addr: string, creds: ChannelCredentials): Promise<unknown> {
  return callUnary(addr, creds, NodeCAService.renewNodeCertificate, { csrPem: createCsr(await testKey()) }, 5_000);
}
