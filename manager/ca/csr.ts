/**
 * Certificate signing requests (PKCS#10). A node makes one with its own key and sends only the
 * CSR; the CA checks that the CSR is signed by the key it carries (proof that the node holds
 * that key) and ignores the CSR's subject: the CA alone decides who the certificate names.
 */
import forge from "node-forge";
import { CAError } from "./errors.ts";
import { RSA_KEY_BITS } from "./keys.ts";

/** A CSR for the key `keyPem` (PKCS#8 or PKCS#1 PEM), signed with it (SHA-256). */
export function createCsr(keyPem: string): string {
  const privateKey = forge.pki.privateKeyFromPem(keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  csr.sign(privateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** Whether the CSR is signed by the key it carries (forge throws, rather than answers false, on some mismatches). */
function signatureHolds(csr: forge.pki.CertificateSigningRequest): boolean {
  try {
    return csr.verify();
  } catch {
    return false;
  }
}

/**
 * The public key of a CSR whose signature is valid and whose key is strong enough; throws a
 * BAD_CSR {@link CAError} otherwise.
 */
export function verifiedCsrKey(csrPem: string): forge.pki.rsa.PublicKey {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    throw new CAError("BAD_CSR", `the certificate signing request is not a valid PKCS#10 RSA CSR: ${(err as Error).message}`);
  }
  if (!signatureHolds(csr)) throw new CAError("BAD_CSR", "the certificate signing request's signature does not match its key: it was altered after it was signed");
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!key) throw new CAError("BAD_CSR", "the certificate signing request carries no public key");
  if (key.n.bitLength() < RSA_KEY_BITS) {
    throw new CAError("BAD_CSR", `the certificate signing request's RSA key has ${key.n.bitLength()} bits; at least ${RSA_KEY_BITS} are required`);
  }
  return key;
}
