/**
 * Issuing certificates with the root CA: node certificates (CN = node id, OU = manager|worker)
 * and operator certificates (CN = operator name, OU = operator, client use only), all with
 * O = cluster id, all from a CSR whose signature is checked.
 */
import forge from "node-forge";
import type { RootCA } from "../../proto/gen/objects.ts";
import { createCsr, verifiedCsrKey } from "./csr.ts";
import { CAError } from "./errors.ts";
import { CertRole, commonNameOf, OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";
import { generateKeyPem } from "./keys.ts";
import { clusterIdOfCA, rootCASubject } from "./root-ca.ts";
import { buildCertificate, CertUsage } from "./x509.ts";

/** Validity of node certificates unless the cluster's CA config says otherwise (DESIGN.md: 90 days). */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * 24 * 60 * 60 * 1000;

/** The parts of the root CA that signing needs. */
export type SigningCA = Pick<RootCA, "caCertPem" | "caKeyPem">;

/** A key, its certificate and the root that verifies the peers it talks to: all a TLS endpoint needs. */
export interface TlsBundle {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

/** The CA key parsed last: every issuance signs with the same key, so it is parsed once, not per request. */
let parsedKey: { pem: string; key: forge.pki.rsa.PrivateKey } | undefined;

function caPrivateKey(pem: string): forge.pki.rsa.PrivateKey {
  if (parsedKey?.pem !== pem) parsedKey = { pem, key: forge.pki.privateKeyFromPem(pem) };
  return parsedKey.key;
}

/**
 * Signs the key of `csrPem` into a certificate for `identity`, valid for `validityMs` from `now`.
 * Throws a {@link CAError} when the CSR is invalid (BAD_CSR) or an operator name is not allowed
 * (BAD_REQUEST); throws a plain Error when `identity` is for another cluster than the CA's.
 */
export function issueCertificate(ca: SigningCA, csrPem: string, identity: CertIdentity, validityMs: number, now: number = Date.now()): string {
  const clusterId = clusterIdOfCA(ca.caCertPem);
  if (identity.clusterId !== clusterId) throw new Error(`cannot issue a certificate for cluster ${identity.clusterId} with the CA of cluster ${clusterId}`);
  if (identity.role === CertRole.OPERATOR && !OPERATOR_NAME_PATTERN.test(identity.operator)) {
    throw new CAError("BAD_REQUEST", `operator name ${JSON.stringify(identity.operator)} is not allowed: use ${OPERATOR_NAME_RULE}`);
  }
  const publicKey = verifiedCsrKey(csrPem);
  return buildCertificate({
    subject: { O: identity.clusterId, OU: identity.role, CN: commonNameOf(identity) },
    issuer: rootCASubject(clusterId),
    usage: identity.role === CertRole.OPERATOR ? CertUsage.CLIENT : CertUsage.NODE,
    publicKey,
    signingKey: caPrivateKey(ca.caKeyPem),
    issuedAt: now,
    validityMs,
  });
}

/**
 * A new key and a certificate for it, for a holder that runs where the CA key is: the first
 * manager at init, or a manager making an operator certificate to hand to a CI runner.
 */
export async function issueKeyAndCertificate(ca: SigningCA, identity: CertIdentity, validityMs: number): Promise<TlsBundle> {
  const keyPem = await generateKeyPem();
  const certPem = issueCertificate(ca, createCsr(keyPem), identity, validityMs);
  return { caCertPem: ca.caCertPem, certPem, keyPem };
}
