/**
 * Who a certificate names. Every certificate the CA issues has the subject
 * `O = <cluster id>, OU = <role>, CN = <name>`: for nodes the role is `manager` or `worker` and the
 * name is the node id; for operators (people or CI runners driving a remote manager) the role is
 * `operator` and the name is the one the issuer chose. An operator certificate is a client
 * certificate only: it never identifies a node, so it cannot serve or take part in Raft.
 */
import type { PeerCertificate } from "node:tls";
import { NodeRole } from "../../proto/gen/specs.ts";

/** The roles a certificate's OU can carry. */
export const CertRole = {
  MANAGER: "manager",
  WORKER: "worker",
  OPERATOR: "operator",
} as const;
/** One value of {@link CertRole}. */
export type CertRole = (typeof CertRole)[keyof typeof CertRole];
/** The roles a node's certificate carries. */
export type NodeCertRole = typeof CertRole.MANAGER | typeof CertRole.WORKER;

/** The identity a certificate carries: a node of the cluster, or an operator. */
export type CertIdentity =
  | { role: NodeCertRole; nodeId: string; clusterId: string }
  | { role: typeof CertRole.OPERATOR; operator: string; clusterId: string };

/** What an operator's name may be: it becomes a CN and shows up in logs. */
export const OPERATOR_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** {@link OPERATOR_NAME_PATTERN} in words, for error messages. */
export const OPERATOR_NAME_RULE = '1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit';

/** The CN of the certificate for `identity`. */
export function commonNameOf(identity: CertIdentity): string {
  return identity.role === CertRole.OPERATOR ? identity.operator : identity.nodeId;
}

/** The certificate role of a node role (the store's enum). */
export function certRoleOf(role: NodeRole): NodeCertRole {
  return role === NodeRole.NODE_ROLE_MANAGER ? CertRole.MANAGER : CertRole.WORKER;
}

/** The node role (the store's enum) of a node certificate role. */
export function nodeRoleOf(role: NodeCertRole): NodeRole {
  return role === CertRole.MANAGER ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
}

/** The one value of a subject attribute, or undefined when it is absent or repeated. */
function single(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Reads the identity from a certificate subject (as `tls` and `X509Certificate.toLegacyObject()`
 * present it); undefined when the subject is not one the CA issues.
 */
export function identityFromSubject(subject: PeerCertificate["subject"] | undefined): CertIdentity | undefined {
  const name = single(subject?.CN);
  const ou = single(subject?.OU);
  const clusterId = single(subject?.O);
  if (!name || !clusterId) return undefined;
  switch (ou) {
    case CertRole.MANAGER:
    case CertRole.WORKER:
      return { role: ou, nodeId: name, clusterId };
    case CertRole.OPERATOR:
      return { role: ou, operator: name, clusterId };
    default:
      return undefined;
  }
}

/** A short description for messages: `worker node 3f2a...` or `operator ci-runner`. */
export function describeIdentity(identity: CertIdentity): string {
  return identity.role === CertRole.OPERATOR ? `operator ${identity.operator}` : `${identity.role} node ${identity.nodeId}`;
}
