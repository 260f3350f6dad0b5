/**
 * Building and reading X.509 certificates (node-forge builds them; Node's crypto reads them).
 * Every certificate's subject is `O = cluster id, OU = role, CN = name` (see identity.ts).
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import forge from "node-forge";

/**
 * How far back a certificate's validity starts: a node whose clock is a little behind the CA's
 * still accepts a certificate issued "now" (SwarmKit backdates by the same hour).
 */
export const CERT_BACKDATE_MS = 60 * 60 * 1000;

/** The three names of a certificate subject, in the order they appear. */
export interface SubjectNames {
  /** The cluster id. */
  O: string;
  /** The role, or "root-ca" for the CA itself. */
  OU: string;
  CN: string;
}

/** What a certificate is for; decides its extensions. */
export const CertUsage = {
  /** The root CA: signs certificates only. */
  CA: "ca",
  /** A node: serves TLS and connects to other nodes. */
  NODE: "node",
  /** An operator: connects only. */
  CLIENT: "client",
} as const;
/** One value of {@link CertUsage}. */
export type CertUsage = (typeof CertUsage)[keyof typeof CertUsage];

/** What {@link buildCertificate} needs. */
export interface CertificateTemplate {
  subject: SubjectNames;
  usage: CertUsage;
  /** The public key the certificate binds to the subject. */
  publicKey: forge.pki.rsa.PublicKey;
  /** The issuer's subject; for a self-signed certificate, the subject itself. */
  issuer: SubjectNames;
  /** The issuer's private key. */
  signingKey: forge.pki.rsa.PrivateKey;
  /** When the certificate is issued (ms since the epoch); validity starts {@link CERT_BACKDATE_MS} earlier. */
  issuedAt: number;
  validityMs: number;
}

/** Subject attributes as UTF8String, so names may hold any character the CA allows (`_` is not printable). */
function attributes(names: SubjectNames): forge.pki.CertificateField[] {
  return (["O", "OU", "CN"] as const).map((shortName) => ({
    shortName,
    value: names[shortName],
    // @types/node-forge declares this a tag class; forge reads it as the universal type.
    valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class,
  }));
}

/** A random positive 128-bit serial number, hex (RFC 5280 allows up to 20 octets). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, and no leading zero octet
  return bytes.toString("hex");
}

const EXTENSIONS: Record<CertUsage, object[]> = {
  [CertUsage.CA]: [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ],
  [CertUsage.NODE]: [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
  ],
  [CertUsage.CLIENT]: [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
  ],
};

/** Builds and signs a certificate (SHA-256 with RSA); returns its PEM. */
export function buildCertificate(t: CertificateTemplate): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = t.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(t.issuedAt - CERT_BACKDATE_MS);
  cert.validity.notAfter = new Date(t.issuedAt + t.validityMs);
  cert.setSubject(attributes(t.subject));
  cert.setIssuer(attributes(t.issuer));
  cert.setExtensions(EXTENSIONS[t.usage]);
  cert.sign(t.signingKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** When a certificate was issued and when it expires, ms since the epoch. */
export interface CertValidity {
  issuedAt: number;
  expiresAt: number;
}

/** The validity of a certificate the CA issued (its start, backdated, is undone). */
export function certValidity(certPem: string): CertValidity {
  const { notBefore, notAfter } = forge.pki.certificateFromPem(certPem).validity;
  return { issuedAt: notBefore.getTime() + CERT_BACKDATE_MS, expiresAt: notAfter.getTime() };
}

/** The SHA-256 digest of a certificate's DER encoding, lower-case hex: what join tokens pin. */
export function certDigest(certPem: string): string {
  return createHash("sha256").update(new X509Certificate(certPem).raw).digest("hex");
}
