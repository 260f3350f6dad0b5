/**
 * The NodeCA client side: joining a cluster with a token, renewing a certificate, getting an
 * operator certificate. Keys are made here and never sent; only CSRs are.
 */
import { Client } from "@grpc/grpc-js";
import type { ChannelCredentials, ServiceError } from "@grpc/grpc-js";
import { NodeCAService } from "../../proto/gen/ca.ts";
import type { NodeDescription } from "../../proto/gen/objects.ts";
import type { NodeRole } from "../../proto/gen/specs.ts";
import { anonymousClientCredentials, clientCredentials, CLUSTER_CHANNEL_OPTIONS, unverifiedClientCredentials } from "./credentials.ts";
import { createCsr } from "./csr.ts";
import { CAError } from "./errors.ts";
import { CertRole, certRoleOf } from "./identity.ts";
import { parseJoinToken } from "./join-token.ts";
import { generateKeyPem } from "./keys.ts";
import { clusterIdOfCA } from "./root-ca.ts";
import type { TlsBundle } from "./signer.ts";
import { TlsIdentity } from "./tls-identity.ts";
import { certDigest } from "./x509.ts";

/**
 * How long one CA RPC may take, connecting included: long enough for a manager busy with an
 * election (about 2 s by DESIGN.md's timings), short enough that a wrong address fails soon.
 */
export const CA_RPC_TIMEOUT_MS = 10_000;

/** One unary method of a generated service definition. */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(message: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/** Calls one unary RPC on a channel of its own, closed afterwards; rejects with the gRPC error. */
export async function callUnary<Req, Res>(addr: string, creds: ChannelCredentials, method: UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
  const client = new Client(addr, creds, CLUSTER_CHANNEL_OPTIONS);
  try {
    return await new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, response?: Res) => (err ? reject(err) : resolve(response!)));
    });
  } finally {
    client.close();
  }
}

/**
 * The root CA certificate of the manager at `addr`, accepted only if its SHA-256 is `caDigest`
 * (from a join token). It is fetched over TLS without verifying the server; the digest is what
 * makes it trustworthy, so no trust-on-first-use is involved. Throws a CA_MISMATCH
 * {@link CAError} when the digest differs.
 */
export async function fetchPinnedRootCA(addr: string, caDigest: string, timeoutMs: number = CA_RPC_TIMEOUT_MS): Promise<string> {
  const { caCertPem } = await callUnary(addr, unverifiedClientCredentials(), NodeCAService.getRootCACertificate, {}, timeoutMs);
  let digest: string;
  try {
    digest = certDigest(caCertPem);
  } catch {
    digest = "(not a certificate)";
  }
  if (digest !== caDigest) {
    throw new CAError("CA_MISMATCH", `the manager at ${addr} presented a root CA with SHA-256 ${digest}, but the join token pins ${caDigest}: the token belongs to another cluster, or something between here and there is impersonating the manager; the token was not sent`);
  }
  return caCertPem;
}

/** What a node needs to join: where a manager is and the token it was given. */
export interface JoinOptions {
  /** A manager's address, host:port. */
  addr: string;
  token: string;
  /** What the node says about itself (hostname, platform, resources), recorded in its Node object. */
  description?: NodeDescription;
  timeoutMs?: number;
}

/** A node that joined: its id and role, its key, its certificate and the cluster root. */
export interface JoinResult extends TlsBundle {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

/**
 * Joins the cluster of the manager at `addr`: checks the token's format, makes a key and CSR,
 * fetches the root CA and pins it by the token's digest, then, over TLS verified with that root,
 * presents the token and receives a certificate. Throws a {@link CAError} for a malformed token
 * or a CA mismatch, and the server's error (PERMISSION_DENIED for a wrong or rotated token).
 */
export async function joinCluster(opts: JoinOptions): Promise<JoinResult> {
  const timeoutMs = opts.timeoutMs ?? CA_RPC_TIMEOUT_MS;
  const { caDigest } = parseJoinToken(opts.token);
  const [keyPem, caCertPem] = await Promise.all([generateKeyPem(), fetchPinnedRootCA(opts.addr, caDigest, timeoutMs)]);
  const clusterId = clusterIdOfCA(caCertPem);
  const response = await callUnary(opts.addr, anonymousClientCredentials(caCertPem, clusterId), NodeCAService.issueNodeCertificate,
    { token: opts.token.trim(), csrPem: createCsr(keyPem), description: opts.description }, timeoutMs);
  const bundle = { caCertPem, certPem: response.certPem, keyPem };
  const issued = new TlsIdentity(bundle).identity;
  if (issued.role === CertRole.OPERATOR || issued.nodeId !== response.nodeId || issued.role !== certRoleOf(response.role)) {
    throw new Error(`the manager at ${opts.addr} issued a certificate that does not match its answer (node ${response.nodeId})`);
  }
  return { ...bundle, nodeId: response.nodeId, role: response.role, clusterId };
}

/** A renewed certificate and the role it carries. */
export interface Renewal {
  bundle: TlsBundle;
  role: NodeRole;
}

/**
 * Asks the manager at `addr` for a new certificate, authenticated by `identity`'s current one,
 * for a new key made here. Does not change `identity`; the caller (usually a
 * {@link CertificateRenewer}) installs the result.
 */
export async function requestRenewal(addr: string, identity: TlsIdentity, timeoutMs: number = CA_RPC_TIMEOUT_MS): Promise<Renewal> {
  const keyPem = await generateKeyPem();
  const response = await callUnary(addr, clientCredentials(identity), NodeCAService.renewNodeCertificate, { csrPem: createCsr(keyPem) }, timeoutMs);
  return { bundle: { caCertPem: response.caCertPem, certPem: response.certPem, keyPem }, role: response.role };
}

/**
 * Asks the manager at `addr` for an operator certificate named `name` for a new key made here,
 * authenticated by `identity` (a manager's or an operator's certificate).
 */
export async function requestOperatorCertificate(addr: string, identity: TlsIdentity, name: string, timeoutMs: number = CA_RPC_TIMEOUT_MS): Promise<TlsBundle> {
  const keyPem = await generateKeyPem();
  const response = await callUnary(addr, clientCredentials(identity), NodeCAService.issueOperatorCertificate, { name, csrPem: createCsr(keyPem) }, timeoutMs);
  return { caCertPem: response.caCertPem, certPem: response.certPem, keyPem };
}
