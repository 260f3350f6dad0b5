/**
 * The cluster certificate authority: root CA, join tokens, node and operator certificates,
 * renewal, and the mutual-TLS plumbing (credentials, per-RPC authorization) for gRPC.
 */
export { Authorizer, RpcPolicy } from "./authorize.ts";
export type { AuthorizableCall, ClusterTrust, IdentityWithRole } from "./authorize.ts";
export { CA_RPC_TIMEOUT_MS, fetchPinnedRootCA, joinCluster, requestOperatorCertificate, requestRenewal } from "./client.ts";
export type { JoinOptions, JoinResult, Renewal } from "./client.ts";
export { clientCredentials, CLUSTER_CHANNEL_OPTIONS, managerIdentityCheck, NO_CHANNELZ, serverCredentials } from "./credentials.ts";
export { createCsr } from "./csr.ts";
export { CAError, CAErrorKind } from "./errors.ts";
export { newId } from "./ids.ts";
export { CertRole, certRoleOf, identityFromSubject, nodeRoleOf, OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE } from "./identity.ts";
export type { CertIdentity, NodeCertRole } from "./identity.ts";
export { generateJoinToken, generateJoinTokens, parseJoinToken, roleForJoinToken, rotateJoinToken } from "./join-token.ts";
export type { ParsedJoinToken } from "./join-token.ts";
export { generateKeyPem } from "./keys.ts";
export { revokeOperatorNames } from "./operators.ts";
export { CertificateRenewer, renewalRetryDelay, renewalTime, systemClock } from "./renewal.ts";
export type { Clock, RenewerOptions } from "./renewal.ts";
export { clusterIdOfCA, createRootCA } from "./root-ca.ts";
export { createNodeCAService, signForCluster, signOperatorCertificate } from "./service.ts";
export type { CABackend, NodeCAHandlers, NodeRegistration } from "./service.ts";
export { DEFAULT_NODE_CERT_VALIDITY_MS, issueCertificate, issueKeyAndCertificate } from "./signer.ts";
export type { SigningCA, TlsBundle } from "./signer.ts";
export { TlsIdentity } from "./tls-identity.ts";
export { certDigest, certValidity } from "./x509.ts";
export type { CertValidity } from "./x509.ts";
export { NodeCAService } from "../../proto/gen/ca.ts";
