/**
 * gRPC credentials for mutual TLS inside a cluster.
 *
 * Servers present their node certificate and ask every client for one, but do not refuse a
 * connection without one at the handshake: a node that is joining has no certificate yet and
 * must still reach IssueNodeCertificate, on the same port. Every other RPC checks the caller's
 * certificate itself through an {@link Authorizer} (authorize.ts), which refuses a caller without
 * a valid cluster certificate.
 *
 * Clients verify the server's certificate against the cluster root, but not by host name:
 * certificates name node ids, not hosts. Instead the server must be a manager of the expected
 * cluster (its O and OU).
 */
import { credentials, experimental } from "@grpc/grpc-js";
import type { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { CertRole, describeIdentity, identityFromSubject } from "./identity.ts";
import type { TlsIdentity } from "./tls-identity.ts";

/**
 * Options for every gRPC server and channel of shoal: no channelz. grpc-js records every call
 * for channelz by default (the call counters, timestamps and a trace), about 5% of a leader's
 * time per write; shoal serves no channelz service, so nobody could read what it records.
 */
export const NO_CHANNELZ = { "grpc.enable_channelz": 0 } as const;

/**
 * How often a channel tries again to reach a server it lost. gRPC's defaults start at 1 s and
 * grow by 1.6 times per failure up to 2 minutes, so a manager down for twenty seconds was reached
 * again 10 s after it came back, and one down for minutes up to 2 minutes after: that long its
 * peers' Raft messages, the writes forwarded to it as leader and its agents' heartbeats failed.
 * Bounded to 1 s, a manager that comes back is reached within about a second; a failed attempt
 * costs a refused connection.
 */
export const RECONNECT_BACKOFF = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1000 } as const;

/**
 * Channel options for every channel to a manager: {@link RECONNECT_BACKOFF}, no channelz, and a
 * fixed TLS server name. Certificates name node ids, not hosts, so the server name carries
 * nothing; a fixed one keeps Node from warning (DEP0123) that an IP address was set as the
 * server name, which grpc-js does when the target is host:port by IP.
 */
export const CLUSTER_CHANNEL_OPTIONS = { "grpc.ssl_target_name_override": "shoal", ...RECONNECT_BACKOFF, ...NO_CHANNELZ } as const;

/** Server credentials presenting `identity`, requesting (not requiring) client certificates. */
export function serverCredentials(identity: TlsIdentity): ServerCredentials {
  // Both arguments are the same provider: it serves the root and the key pair alike.
  return experimental.createCertificateProviderServerCredentials(identity, identity, false);
}

/** Checks that a server's certificate (already verified against the root) names a manager of `clusterId`. */
export function managerIdentityCheck(clusterId: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const identity = identityFromSubject(cert.subject);
    if (identity?.role === CertRole.MANAGER && identity.clusterId === clusterId) return undefined;
    const presented = identity ? describeIdentity(identity) + ` of cluster ${identity.clusterId}` : "a certificate shoal did not issue";
    return new Error(`the server is not a manager of cluster ${clusterId}: it presents ${presented}`);
  };
}

/** Channel credentials presenting `identity` and accepting only managers of its cluster. */
export function clientCredentials(identity: TlsIdentity): ChannelCredentials {
  return experimental.createCertificateProviderChannelCredentials(identity, identity, {
    checkServerIdentity: managerIdentityCheck(identity.identity.clusterId),
  });
}

/** Channel credentials with no client certificate, accepting only managers of the cluster of `caCertPem`. */
export function anonymousClientCredentials(caCertPem: string, clusterId: string): ChannelCredentials {
  return credentials.createSsl(Buffer.from(caCertPem), null, null, { checkServerIdentity: managerIdentityCheck(clusterId) });
}

/**
 * Channel credentials that accept any server certificate. Only for fetching the root CA
 * certificate, which the caller then compares with the digest its join token pins; nothing
 * secret may be sent over such a channel.
 */
export function unverifiedClientCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, { rejectUnauthorized: false, checkServerIdentity: () => undefined });
}
