/**
 * A node's (or an operator's) TLS identity: its key, its certificate and the cluster root, held
 * in one place that can change. It is a grpc-js certificate provider, so servers and channels
 * built on it (credentials.ts) take a renewed certificate for every new connection without
 * being rebuilt.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { experimental } from "@grpc/grpc-js";
import { identityFromSubject } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";
import type { TlsBundle } from "./signer.ts";
import { certValidity } from "./x509.ts";
import type { CertValidity } from "./x509.ts";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Checks that a bundle is coherent and returns the identity its certificate names. */
function checkBundle(bundle: TlsBundle): CertIdentity {
  const ca = new X509Certificate(bundle.caCertPem);
  const cert = new X509Certificate(bundle.certPem);
  if (!cert.checkPrivateKey(createPrivateKey(bundle.keyPem))) throw new Error("the private key does not belong to the certificate");
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw new Error("the certificate was not issued by the given root CA");
  const identity = identityFromSubject(cert.toLegacyObject().subject);
  if (!identity) throw new Error(`the certificate's subject (${cert.subject.replaceAll("\n", ", ")}) is not one a shoal CA issues`);
  return identity;
}

/** The current key, certificate and root of one TLS endpoint; see the file comment. */
export class TlsIdentity implements experimental.CertificateProvider {
  #bundle!: TlsBundle;
  #identity!: CertIdentity;
  #validity!: CertValidity;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  /** Throws when the key does not match the certificate or the certificate is not the CA's. */
  constructor(bundle: TlsBundle) {
    this.#set(bundle);
  }

  /** The current key, certificate and root, as PEM. */
  get bundle(): TlsBundle {
    return this.#bundle;
  }

  /** Who the current certificate names. */
  get identity(): CertIdentity {
    return this.#identity;
  }

  /** When the current certificate was issued and when it expires. */
  get validity(): CertValidity {
    return this.#validity;
  }

  /**
   * Replaces key, certificate and root (after a renewal); new connections use them, open ones
   * keep what they were made with. Throws, changing nothing, when the bundle is not coherent.
   */
  update(bundle: TlsBundle): void {
    this.#set(bundle);
    for (const listener of this.#caListeners) this.#sendCa(listener);
    for (const listener of this.#identityListeners) this.#sendIdentity(listener);
  }

  #set(bundle: TlsBundle): void {
    const identity = checkBundle(bundle);
    this.#validity = certValidity(bundle.certPem);
    this.#identity = identity;
    this.#bundle = { ...bundle };
  }

  // Listeners hear on the next tick: grpc-js registers a server's watcher only after it has
  // subscribed here, and an update sent synchronously would reach the credentials before it.
  #sendCa(listener: CaListener): void {
    process.nextTick(() => {
      if (this.#caListeners.has(listener)) listener({ caCertificate: Buffer.from(this.#bundle.caCertPem) });
    });
  }

  #sendIdentity(listener: IdentityListener): void {
    process.nextTick(() => {
      if (this.#identityListeners.has(listener)) {
        listener({ certificate: Buffer.from(this.#bundle.certPem), privateKey: Buffer.from(this.#bundle.keyPem) });
      }
    });
  }

  /** For grpc-js: subscribes to the root certificate. */
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#sendCa(listener);
  }

  /** For grpc-js: unsubscribes from the root certificate. */
  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  /** For grpc-js: subscribes to the key and certificate. */
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#sendIdentity(listener);
  }

  /** For grpc-js: unsubscribes from the key and certificate. */
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}
