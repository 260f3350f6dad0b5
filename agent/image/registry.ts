/**
 * A client of the Docker Registry HTTP API v2 / OCI distribution spec, for pulling: resolves a
 * reference to an image manifest for a platform (through manifest lists and OCI indexes),
 * verifies every document against its digest, and streams layer blobs. Authentication is
 * answered per registry by {@link RegistryAuth}.
 */
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { ExecError, ExecErrorCode } from "../exec/errors.ts";
import { RegistryAuth } from "./auth.ts";
import type { Credentials } from "./auth.ts";
import { checkDigest, digestOf } from "./digest.ts";
import { MANIFEST_ACCEPT, MediaType } from "./media.ts";
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from "./media.ts";
import { formatPlatform, selectManifest } from "./platform.ts";
import type { OciPlatform } from "./platform.ts";
import { formatReference } from "./reference.ts";
import type { ImageReference } from "./reference.ts";

/** Manifests and configs are small; anything larger is refused rather than buffered. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/** How the registry client finds credentials and decides on plain HTTP. */
export interface RegistryOptions {
  /** Credentials for a registry host, if any. */
  credentials?: (registry: string) => Credentials | undefined;
  /** Whether to speak plain HTTP to a registry; by default only loopback registries get it. */
  insecure?: (registry: string) => boolean;
  /** The fetch to use (tests may wrap it). */
  fetch?: typeof fetch;
}

/** What a reference resolved to. */
export interface ResolvedImage {
  /** Digest of the document the reference names (an index or a manifest): the image's identity. */
  digest: string;
  /** Digest of the platform's image manifest (equal to `digest` when the reference names one). */
  manifestDigest: string;
  manifest: ImageManifest;
  config: ImageConfig;
}

/** Whether a registry host is on the loopback interface. */
function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** The registry's error codes from a JSON error body, for messages. */
async function errorCodes(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { errors?: { code?: string; message?: string }[] };
    return (body.errors ?? []).map((e) => `${e.code ?? "?"}: ${e.message ?? ""}`).join("; ");
  } catch {
    return "";
  }
}

/** A pull client for any number of registries. */
export class RegistryClient {
  private readonly auths = new Map<string, RegistryAuth>();
  private readonly fetchImpl: typeof fetch;

  /** @param options credentials, plain-HTTP policy and fetch */
  constructor(private readonly options: RegistryOptions = {}) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Resolves `ref` to the image manifest and config for `platform`, all digest-verified. */
  async resolve(ref: ImageReference, platform: OciPlatform): Promise<ResolvedImage> {
    const name = formatReference(ref);
    const top = await this.document(ref, "manifests", ref.digest ?? ref.tag ?? "latest", MANIFEST_ACCEPT, ref.digest, name);
    const doc = JSON.parse(top.bytes.toString("utf8")) as Partial<ImageIndex & ImageManifest>;
    const mediaType = doc.mediaType ?? top.contentType;
    let manifestDigest = top.digest;
    let manifest: ImageManifest;
    if (mediaType === MediaType.OciIndex || mediaType === MediaType.DockerManifestList || (Array.isArray(doc.manifests) && !doc.layers)) {
      const chosen = selectManifest(doc.manifests ?? [], platform);
      if (!chosen) {
        const has = (doc.manifests ?? []).filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
        throw new ExecError(ExecErrorCode.ImageNotFound, `image ${name} has no manifest for platform ${formatPlatform(platform)} (it has ${has.join(", ") || "none"})`);
      }
      const child = await this.document(ref, "manifests", chosen.digest, MANIFEST_ACCEPT, chosen.digest, `${name} (${formatPlatform(platform)})`);
      manifestDigest = child.digest;
      manifest = JSON.parse(child.bytes.toString("utf8")) as ImageManifest;
    } else {
      manifest = doc as ImageManifest;
    }
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new ExecError(ExecErrorCode.Registry, `image ${name}: unsupported manifest (media type ${mediaType || "unknown"})`);
    const cfg = await this.document(ref, "blobs", manifest.config.digest, "*/*", manifest.config.digest, `config of ${name}`);
    const config = JSON.parse(cfg.bytes.toString("utf8")) as ImageConfig;
    if (config.rootfs?.diff_ids?.length !== manifest.layers.length) throw new ExecError(ExecErrorCode.Registry, `image ${name}: config lists ${config.rootfs?.diff_ids?.length ?? 0} layers, manifest ${manifest.layers.length}`);
    return { digest: top.digest, manifestDigest, manifest, config };
  }

  /** Opens a blob for reading; the caller verifies its digest while consuming it. */
  async blob(ref: ImageReference, desc: Descriptor): Promise<Readable> {
    const res = await this.request(ref, "blobs", desc.digest, "*/*", `layer ${desc.digest} of ${formatReference(ref)}`);
    if (!res.body) throw new ExecError(ExecErrorCode.Registry, `registry ${ref.registry} sent an empty body for ${desc.digest}`);
    return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  }

  /** Fetches a small document (manifest or config) and checks it against `expected` when given. */
  private async document(ref: ImageReference, kind: "manifests" | "blobs", id: string, accept: string, expected: string | undefined, what: string): Promise<{ bytes: Buffer; digest: string; contentType: string }> {
    const res = await this.request(ref, kind, id, accept, what);
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > MAX_DOCUMENT_BYTES) throw new ExecError(ExecErrorCode.Registry, `${what} is ${declared} bytes, more than a manifest or config may be`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = digestOf(bytes);
    checkDigest(what, expected ?? res.headers.get("docker-content-digest") ?? digest, digest);
    return { bytes, digest, contentType: (res.headers.get("content-type") ?? "").split(";")[0]!.trim() };
  }

  /** GETs /v2/<repository>/<kind>/<id>, answering one authentication challenge; maps failures to ExecErrors. */
  private async request(ref: ImageReference, kind: "manifests" | "blobs", id: string, accept: string, what: string): Promise<Response> {
    const auth = this.auth(ref.registry);
    const scope = `repository:${ref.repository}:pull`;
    const scheme = (this.options.insecure ?? isLoopback)(ref.registry) ? "http" : "https";
    const url = `${scheme}://${ref.registry}/v2/${ref.repository}/${kind}/${id}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept };
      const authorization = auth.header(scope);
      if (authorization) headers.authorization = authorization;
      let res: Response;
      try {
        res = await this.fetchImpl(url, { headers });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        throw new ExecError(ExecErrorCode.Registry, `cannot reach registry ${ref.registry} for ${what}: ${cause}`, err);
      }
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        await auth.challenge(res, scope);
        continue;
      }
      if (res.ok) return res;
      const codes = await errorCodes(res);
      if (res.status === 401 || res.status === 403) {
        const why = authorization ? "refused the credentials" : "requires authentication";
        throw new ExecError(ExecErrorCode.AuthRefused, `registry ${ref.registry} ${why} for ${what}${codes ? ` (${codes})` : ""}`);
      }
      if (res.status === 404) throw new ExecError(ExecErrorCode.ImageNotFound, `image not found: ${what}${codes ? ` (${codes})` : ""}`);
      throw new ExecError(ExecErrorCode.Registry, `registry ${ref.registry} answered ${res.status} for ${what}${codes ? ` (${codes})` : ""}`);
    }
  }

  /** The authentication state of one registry. */
  private auth(registry: string): RegistryAuth {
    let a = this.auths.get(registry);
    if (!a) {
      a = new RegistryAuth(registry, this.options.credentials?.(registry), this.fetchImpl);
      this.auths.set(registry, a);
    }
    return a;
  }
}
