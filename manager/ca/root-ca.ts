/** The cluster's root certificate authority, created once, when the cluster is initialised. */
import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import type { RootCA } from "../../proto/gen/objects.ts";
import { generateJoinTokens } from "./join-token.ts";
import { generateKeyPem } from "./keys.ts";
import { buildCertificate, certDigest, CertUsage } from "./x509.ts";
import type { SubjectNames } from "./x509.ts";

/**
 * Validity of the root CA certificate: 20 years, as SwarmKit's. The root outlives any cluster
 * we expect; what rotates routinely are node certificates.
 */
export const ROOT_CA_VALIDITY_MS = 20 * 365 * 24 * 60 * 60 * 1000;
/** The OU and CN of the root CA certificate (its O is the cluster id). */
export const ROOT_CA_NAME = "shoal-root-ca";

/** The root CA's subject for cluster `clusterId`. */
export function rootCASubject(clusterId: string): SubjectNames {
  return { O: clusterId, OU: ROOT_CA_NAME, CN: ROOT_CA_NAME };
}

/**
 * A new root CA for cluster `clusterId`: an RSA key, a self-signed CA certificate, its digest,
 * and a fresh worker and manager join token that pin it.
 */
export async function createRootCA(clusterId: string, now: number = Date.now()): Promise<RootCA> {
  const caKeyPem = await generateKeyPem();
  const key = forge.pki.privateKeyFromPem(caKeyPem);
  const subject = rootCASubject(clusterId);
  const caCertPem = buildCertificate({
    subject,
    issuer: subject,
    usage: CertUsage.CA,
    publicKey: forge.pki.setRsaPublicKey(key.n, key.e),
    signingKey: key,
    issuedAt: now,
    validityMs: ROOT_CA_VALIDITY_MS,
  });
  const caCertDigest = certDigest(caCertPem);
  return { caCertPem, caKeyPem, caCertDigest, joinTokens: generateJoinTokens(caCertDigest) };
}

/** The cluster id a root CA certificate belongs to (its O); throws when it is not a shoal root CA. */
export function clusterIdOfCA(caCertPem: string): string {
  const cert = new X509Certificate(caCertPem);
  const subject = cert.toLegacyObject().subject;
  if (!cert.ca || subject.CN !== ROOT_CA_NAME || typeof subject.O !== "string") {
    throw new Error(`not a shoal root CA certificate (subject ${cert.subject.replaceAll("\n", ", ")})`);
  }
  return subject.O;
}
