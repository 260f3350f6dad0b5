/**
 * Per-RPC authorization: who is calling (from the client certificate verified at the TLS
 * handshake, checked again here against the cluster root and cluster id), whether that node was
 * removed or that operator revoked (operators.ts), and whether its role may call the RPC. Every
 * handler except the CA's join RPCs starts with `authorizer.authorize(call, RpcPolicy.<service>)`.
 */
import { X509Certificate } from "node:crypto";
import { TLSSocket } from "node:tls";
import type { ServerUnaryCall } from "@grpc/grpc-js";
import type { Cluster } from "../../proto/gen/objects.ts";
import { CAError } from "./errors.ts";
import { CertRole, describeIdentity, identityFromSubject } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";
import { isOperatorRevoked } from "./operators.ts";

/** Which certificate roles may call each service. */
export const RpcPolicy = {
  /** Raft messages and membership: managers only. */
  raft: [CertRole.MANAGER],
  /** The control API: managers (forwarding to the leader) and operators. */
  control: [CertRole.MANAGER, CertRole.OPERATOR],
  /** Agent sessions: every node. */
  dispatcher: [CertRole.MANAGER, CertRole.WORKER],
  /** Certificate renewal: every node, for itself. */
  renewNodeCertificate: [CertRole.MANAGER, CertRole.WORKER],
  /** Operator certificates: managers and operators. */
  issueOperatorCertificate: [CertRole.MANAGER, CertRole.OPERATOR],
} as const satisfies Record<string, readonly CertRole[]>;

/** What authorization reads from the cluster. */
export interface ClusterTrust {
  /** The cluster: its id and root CA. */
  cluster(): Cluster;
  /** Whether the node with this id was removed from the cluster; a removed node may call nothing. */
  isRemoved(nodeId: string): boolean;
}

/** The parts of a server call that authorization reads; every grpc-js server call has them. */
export type AuthorizableCall = Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext" | "getPath">;

/** The identity of a caller whose role is one of `R`. */
export type IdentityWithRole<R extends CertRole> = Extract<CertIdentity, { role: R }>;

/**
 * Verified certificates remembered, so that parsing and checking a certificate happens once per
 * certificate rather than once per call (it was nearly half of a busy leader's CPU). Bounded:
 * the cache starts over when it holds this many.
 */
const VERIFIED_CACHE_LIMIT = 4096;

/** A certificate verified against a root for a cluster, and who it names. */
interface Verified {
  rootPem: string;
  clusterId: string;
  identity: CertIdentity;
}

/**
 * The TLS connection a call arrived on. Calls of the control API's own server
 * (manager/controlapi/h2/unary-server.ts) name it (`tlsSocket`); a grpc-js server call's is found
 * through grpc-js's call objects
 * (call → intercepting calls → HTTP/2 stream → session → socket); undefined when grpc-js is
 * built otherwise, and then every call reads the certificate again (correct, only slower).
 * A test checks that this path is found, so a grpc-js upgrade that moves it is noticed.
 */
function connectionOf(call: AuthorizableCall): TLSSocket | undefined {
  const own = (call as { tlsSocket?: unknown }).tlsSocket;
  if (own instanceof TLSSocket) return own;
  let c = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 4 && c; depth++) {
    const socket = (c as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** Decides who calls and whether they may; see the file comment. */
export class Authorizer {
  #root: { pem: string; cert: X509Certificate } | undefined;
  readonly #verified = new Map<string, Verified>();
  /**
   * Per connection, who its certificate named: a connection's certificate does not change, and
   * reading it from the socket costs tens of microseconds per call.
   */
  readonly #byConnection = new WeakMap<TLSSocket, Verified>();

  constructor(private readonly trust: ClusterTrust) {}

  #rootCert(pem: string): X509Certificate {
    if (this.#root?.pem !== pem) this.#root = { pem, cert: new X509Certificate(pem) };
    return this.#root.cert;
  }

  /**
   * The identity in the caller's certificate; throws an UNAUTHENTICATED {@link CAError} when the
   * caller presented none, or one that this cluster's CA did not issue for this cluster.
   */
  peerIdentity(call: AuthorizableCall): CertIdentity {
    const cluster = this.trust.cluster();
    const rootPem = cluster.rootCa?.caCertPem ?? "";
    const connection = connectionOf(call);
    const seen = connection && this.#byConnection.get(connection);
    if (seen && seen.rootPem === rootPem && seen.clusterId === cluster.id) return seen.identity;
    // grpc-js hands over the peer certificate only when the TLS handshake verified it against
    // the server's root: a missing, foreign or expired certificate all arrive as no certificate.
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw) {
      throw new CAError("UNAUTHENTICATED", `${call.getPath()} needs a valid certificate of this cluster; the caller presented none, or one that this cluster's CA did not issue or that has expired`);
    }
    // Expiry was checked by the TLS handshake; what is checked here depends only on the
    // certificate, the root and the cluster id, so a verification is valid while those match.
    const key = raw.toString("latin1");
    const known = this.#verified.get(key);
    if (known && known.rootPem === rootPem && known.clusterId === cluster.id) {
      if (connection) this.#byConnection.set(connection, known);
      return known.identity;
    }
    const root = this.#rootCert(rootPem);
    const cert = new X509Certificate(raw);
    if (!cert.checkIssued(root) || !cert.verify(root.publicKey)) {
      throw new CAError("UNAUTHENTICATED", `${call.getPath()}: the caller's certificate was not issued by this cluster's CA`);
    }
    const identity = identityFromSubject(cert.toLegacyObject().subject);
    if (!identity || identity.clusterId !== cluster.id) {
      throw new CAError("UNAUTHENTICATED", `${call.getPath()}: the caller's certificate does not name a member of cluster ${cluster.id}`);
    }
    if (this.#verified.size >= VERIFIED_CACHE_LIMIT) this.#verified.clear();
    const verified = { rootPem, clusterId: cluster.id, identity };
    this.#verified.set(key, verified);
    if (connection) this.#byConnection.set(connection, verified);
    return identity;
  }

  /**
   * The caller's identity if it may call this RPC: it has a valid certificate of this cluster
   * (else UNAUTHENTICATED), is not a removed node nor a revoked operator and has one of the
   * roles `allowed` (else PERMISSION_DENIED). The error is a {@link CAError}, which a handler
   * passes to its callback.
   */
  authorize<R extends CertRole>(call: AuthorizableCall, allowed: readonly R[]): IdentityWithRole<R> {
    const identity = this.peerIdentity(call);
    if (identity.role === CertRole.OPERATOR) {
      if (isOperatorRevoked(this.trust.cluster(), identity.operator)) {
        throw new CAError("REVOKED", `the certificates of operator ${identity.operator} were revoked; ${call.getPath()} is refused`);
      }
    } else if (this.trust.isRemoved(identity.nodeId)) {
      throw new CAError("REMOVED", `node ${identity.nodeId} was removed from the cluster and may not call ${call.getPath()}; to come back it must leave and join again with a token`);
    }
    if (!isAllowed(identity, allowed)) {
      throw new CAError("WRONG_ROLE", `${call.getPath()} may be called by ${allowed.join(" or ")} certificates, not by ${describeIdentity(identity)}`);
    }
    return identity;
  }
}

function isAllowed<R extends CertRole>(identity: CertIdentity, allowed: readonly R[]): identity is IdentityWithRole<R> {
  return (allowed as readonly CertRole[]).includes(identity.role);
}
