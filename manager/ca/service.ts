/**
 * The NodeCA gRPC service (proto/ca.proto), served by every manager over an injected backend
 * that the daemon implements on the store:
 *
 *   server.addService(NodeCAService, createNodeCAService(backend));
 *
 * on a server bound with `serverCredentials(identity)`.
 */
import { status } from "@grpc/grpc-js";
import type { handleUnaryCall, ServerErrorResponse, ServerUnaryCall } from "@grpc/grpc-js";
import type { NodeCAService } from "../../proto/gen/ca.ts";
import type { Cluster, NodeDescription, RootCA } from "../../proto/gen/objects.ts";
import type { NodeRole } from "../../proto/gen/specs.ts";
import { Authorizer, RpcPolicy } from "./authorize.ts";
import type { ClusterTrust } from "./authorize.ts";
import { CAError } from "./errors.ts";
import { newId } from "./ids.ts";
import { CertRole, certRoleOf } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";
import { roleForJoinToken } from "./join-token.ts";
import { checkOperatorIssuance } from "./operators.ts";
import { DEFAULT_NODE_CERT_VALIDITY_MS, issueCertificate } from "./signer.ts";

/** A node the CA admitted, for the backend to record. */
export interface NodeRegistration {
  /** A fresh random id (ids.ts); also the CN of the node's certificate. */
  nodeId: string;
  /** The role the join token granted. */
  role: NodeRole;
  /** What the node said about itself (hostname, platform, resources). */
  description: NodeDescription | undefined;
}

/** What the CA service needs from the rest of the manager. */
export interface CABackend extends ClusterTrust {
  /**
   * Records a node that joined (a Node object in the store). Rejects when it cannot be
   * recorded, for example without quorum, or when the id was ever used before; the node then
   * gets no certificate.
   */
  registerNode(node: NodeRegistration): Promise<void>;
  /**
   * The role a node's next certificate carries (its desired role, so a promotion or demotion
   * takes effect at the node's next renewal), or undefined when no such node exists.
   */
  nodeRole(nodeId: string): NodeRole | undefined;
}

type Methods = typeof NodeCAService;
type RequestOf<K extends keyof Methods> = ReturnType<Methods[K]["requestDeserialize"]>;
type ResponseOf<K extends keyof Methods> = ReturnType<Methods[K]["responseDeserialize"]>;

/** Handlers for every NodeCA RPC, for `server.addService(NodeCAService, ...)`. */
export type NodeCAHandlers = { [K in keyof Methods]: handleUnaryCall<RequestOf<K>, ResponseOf<K>> };

/** A CAError as it is; anything else as INTERNAL, its message kept. */
function toServiceError(err: unknown): ServerErrorResponse {
  if (err instanceof CAError) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  return Object.assign(error, { code: status.INTERNAL });
}

/** Adapts an async handler to grpc-js's callback style. */
function unary<Req, Res>(handler: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(toServiceError(err)),
      );
  };
}

/** The cluster's root CA; throws NOT_READY while there is none. */
function rootCaOf(cluster: Cluster): RootCA {
  if (!cluster.rootCa?.caCertPem) throw new CAError("NOT_READY", "this cluster has no root CA yet");
  return cluster.rootCa;
}

/** How long the certificates this cluster issues are valid. */
function validityOf(cluster: Cluster): number {
  return cluster.spec?.caConfig?.nodeCertExpiryMs || DEFAULT_NODE_CERT_VALIDITY_MS;
}

/** Signs `csrPem` for `identity` with the cluster's CA, for the cluster's certificate validity. */
export function signForCluster(cluster: Cluster, csrPem: string, identity: CertIdentity): { certPem: string; caCertPem: string } {
  const rootCa = rootCaOf(cluster);
  return { certPem: issueCertificate(rootCa, csrPem, identity, validityOf(cluster)), caCertPem: rootCa.caCertPem };
}

/**
 * Signs an operator certificate named `name` for the key of `csrPem`, asked for by `caller`
 * (undefined: a manager's local socket), once operators.ts's rules allow it; throws a
 * {@link CAError} when they do not, or when the name or CSR is malformed.
 */
export function signOperatorCertificate(cluster: Cluster, csrPem: string, name: string, caller: CertIdentity | undefined): { certPem: string; caCertPem: string } {
  checkOperatorIssuance(cluster, name, caller);
  return signForCluster(cluster, csrPem, { role: CertRole.OPERATOR, operator: name, clusterId: cluster.id });
}

/** The NodeCA service over `backend`; see the file comment. */
export function createNodeCAService(backend: CABackend): NodeCAHandlers {
  const authorizer = new Authorizer(backend);
  return {
    getRootCACertificate: unary(() => ({ caCertPem: rootCaOf(backend.cluster()).caCertPem })),

    issueNodeCertificate: unary(async ({ request }) => {
      const cluster = backend.cluster();
      const role = roleForJoinToken(rootCaOf(cluster), request.token);
      const nodeId = newId();
      // Signed before the node is recorded: a bad CSR leaves no node behind.
      const signed = signForCluster(cluster, request.csrPem, { role: certRoleOf(role), nodeId, clusterId: cluster.id });
      await backend.registerNode({ nodeId, role, description: request.description });
      return { nodeId, role, ...signed };
    }),

    renewNodeCertificate: unary((call) => {
      const { nodeId } = authorizer.authorize(call, RpcPolicy.renewNodeCertificate);
      const role = backend.nodeRole(nodeId);
      if (role === undefined) throw new CAError("NOT_READY", `node ${nodeId} is not known to this cluster`);
      const cluster = backend.cluster();
      return { role, ...signForCluster(cluster, call.request.csrPem, { role: certRoleOf(role), nodeId, clusterId: cluster.id }) };
    }),

    issueOperatorCertificate: unary((call) => {
      const caller = authorizer.authorize(call, RpcPolicy.issueOperatorCertificate);
      return signOperatorCertificate(backend.cluster(), call.request.csrPem, call.request.name, caller);
    }),
  };
}
