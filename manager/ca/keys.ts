/**
 * Private keys. They come from Node's crypto (OpenSSL, in the thread pool, so key generation does
 * not block the event loop). They are RSA because node-forge, which builds our certificates and
 * CSRs, signs and verifies X.509 only with RSA.
 */
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";

/** RSA modulus size: the smallest size current guidance (NIST SP 800-57) accepts beyond 2030. */
export const RSA_KEY_BITS = 2048;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A new RSA private key, PKCS#8 PEM. */
export async function generateKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPairAsync("rsa", {
    modulusLength: RSA_KEY_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return privateKey;
}
