import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import forge from "node-forge";
import { createCsr } from "./csr.ts";
import { CAError } from "./errors.ts";
import { newId } from "./ids.ts";
import { CertRole, identityFromSubject } from "./identity.ts";
import { generateKeyPem } from "./keys.ts";
import { clusterIdOfCA, createRootCA } from "./root-ca.ts";
import { issueCertificate } from "./signer.ts";
import { testKey } from "./testing.ts";
import { TlsIdentity } from "./tls-identity.ts";
import { certValidity } from "./x509.ts";

const clusterId = newId();
const rootCa = createRootCA(clusterId);
const DAY = 24 * 60 * 60 * 1000;

function subjectOf(certPem: string): Record<string, unknown> {
  return { ...new X509Certificate(certPem).toLegacyObject().subject };
}

test("the root CA is a self-signed CA certificate for the cluster, and its digest is the SHA-256 of its DER", async () => {
  const ca = await rootCa;
  const cert = new X509Certificate(ca.caCertPem);
  assert.ok(cert.ca, "basicConstraints CA:TRUE");
  assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey), "self-signed");
  assert.equal(clusterIdOfCA(ca.caCertPem), clusterId);
  assert.equal(cert.publicKey.asymmetricKeyType, "rsa");
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(ca.caCertPem))).getBytes(), "binary");
  assert.equal(ca.caCertDigest, createHash("sha256").update(der).digest("hex"));
  assert.match(ca.caCertDigest, /^[0-9a-f]{64}$/);
  assert.ok(Date.parse(cert.validTo) - Date.now() > 19 * 365 * DAY, "the root outlives node certificates by far");
  assert.ok(ca.joinTokens!.worker.includes(ca.caCertDigest) && ca.joinTokens!.manager.includes(ca.caCertDigest));
  assert.notEqual(ca.joinTokens!.worker, ca.joinTokens!.manager);
});

test("a node certificate issued from a CSR names the node id (CN), role (OU) and cluster (O), binds the CSR's key, and chains to the root", async () => {
  const ca = await rootCa;
  const keyPem = await testKey();
  const nodeId = newId();
  const certPem = issueCertificate(ca, createCsr(keyPem), { role: CertRole.WORKER, nodeId, clusterId }, 90 * DAY);
  assert.deepEqual(subjectOf(certPem), { O: clusterId, OU: "worker", CN: nodeId });
  const identity = new TlsIdentity({ caCertPem: ca.caCertPem, certPem, keyPem });
  assert.deepEqual(identity.identity, { role: "worker", nodeId, clusterId });
  const cert = new X509Certificate(certPem);
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], "serverAuth and clientAuth");
  const { issuedAt, expiresAt } = certValidity(certPem);
  assert.ok(Math.abs(issuedAt - Date.now()) < 2_000, "issued now");
  assert.ok(Math.abs(expiresAt - issuedAt - 90 * DAY) < 1_000, "90 days of validity");
  assert.ok(Date.parse(cert.validFrom) < Date.now() - 30 * 60 * 1000, "validity starts earlier, for clock skew");
});

test("validity is configurable down to seconds", async () => {
  const ca = await rootCa;
  const certPem = issueCertificate(ca, createCsr(await testKey()), { role: CertRole.MANAGER, nodeId: newId(), clusterId }, 3_000);
  const { issuedAt, expiresAt } = certValidity(certPem);
  assert.equal(expiresAt - issuedAt, 3_000);
});

test("an operator certificate is a client-only certificate with OU=operator and the operator's name as CN", async () => {
  const ca = await rootCa;
  const certPem = issueCertificate(ca, createCsr(await testKey()), { role: CertRole.OPERATOR, operator: "ci-runner_1", clusterId }, DAY);
  assert.deepEqual(subjectOf(certPem), { O: clusterId, OU: "operator", CN: "ci-runner_1" });
  assert.deepEqual(new X509Certificate(certPem).keyUsage, ["1.3.6.1.5.5.7.3.2"], "clientAuth only: it cannot serve");
  assert.deepEqual(identityFromSubject(new X509Certificate(certPem).toLegacyObject().subject), { role: "operator", operator: "ci-runner_1", clusterId });
  const csrPem = createCsr(await testKey());
  assert.throws(() => issueCertificate(ca, csrPem, { role: CertRole.OPERATOR, operator: "bad name", clusterId }, DAY),
    (err: unknown) => err instanceof CAError && err.kind === "BAD_REQUEST" && /operator name "bad name" is not allowed/.test(err.message));
});

test("a CSR altered after it was signed is refused, and so are garbage and weak keys", async () => {
  const ca = await rootCa;
  const csrPem = createCsr(await testKey());
  const csr = forge.pki.certificationRequestFromPem(csrPem);
  // Swap in another public key but keep the original signature: the request no longer proves possession.
  const other = forge.pki.privateKeyFromPem(await generateKeyPem());
  csr.publicKey = forge.pki.setRsaPublicKey(other.n, other.e);
  delete (csr as { certificationRequestInfo?: unknown }).certificationRequestInfo;
  const tampered = forge.pki.certificationRequestToPem(csr);
  const identity = { role: CertRole.WORKER, nodeId: newId(), clusterId } as const;
  assert.throws(() => issueCertificate(ca, tampered, identity, DAY), (err: unknown) => err instanceof CAError && err.kind === "BAD_CSR" && /altered after it was signed/.test(err.message));
  assert.throws(() => issueCertificate(ca, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", identity, DAY),
    (err: unknown) => err instanceof CAError && err.kind === "BAD_CSR");
  const weakKey = generateKeyPairSync("rsa", { modulusLength: 1024, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;
  assert.throws(() => issueCertificate(ca, createCsr(weakKey), identity, DAY), /RSA key has 1024 bits; at least 2048 are required/);
  // The untouched CSR is accepted: the refusal above is about the tampering.
  assert.ok(issueCertificate(ca, csrPem, identity, DAY));
});

test("the CA refuses to sign for another cluster's id", async () => {
  const ca = await rootCa;
  const csrPem = createCsr(await testKey());
  assert.throws(() => issueCertificate(ca, csrPem, { role: CertRole.WORKER, nodeId: newId(), clusterId: newId() }, DAY), /with the CA of cluster/);
});

test("a TlsIdentity refuses a key that is not the certificate's and a certificate from another CA", async () => {
  const ca = await rootCa;
  const keyPem = await testKey();
  const certPem = issueCertificate(ca, createCsr(keyPem), { role: CertRole.WORKER, nodeId: newId(), clusterId }, DAY);
  const otherKey = await generateKeyPem();
  assert.throws(() => new TlsIdentity({ caCertPem: ca.caCertPem, certPem, keyPem: otherKey }), /private key does not belong/);
  const otherCa = await createRootCA(newId());
  assert.throws(() => new TlsIdentity({ caCertPem: otherCa.caCertPem, certPem, keyPem }), /not issued by the given root CA/);
});

test("node ids are 25 characters of lower-case base32 and do not repeat", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[a-z2-7]{25}$/);
});
