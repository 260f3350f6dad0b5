/**
 * Image references as Docker writes them: `[registry/]repository[:tag][@digest]`. A name without
 * a registry is on Docker Hub, and a one-component Hub name is under `library/`.
 */
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** Docker Hub's registry host, for names with no registry part. */
const DEFAULT_REGISTRY = "registry-1.docker.io";
/** The tag a reference without tag or digest means. */
const DEFAULT_TAG = "latest";

/** A parsed image reference. */
export interface ImageReference {
  /** host[:port] of the registry. */
  registry: string;
  /** The repository path within the registry, such as `library/busybox`. */
  repository: string;
  /** The tag, unless the reference is by digest only. */
  tag?: string;
  /** `sha256:<hex>` when the reference is pinned. */
  digest?: string;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** Parses a reference; throws an `invalid-spec` ExecError naming what is wrong. */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string): ExecError => new ExecError(ExecErrorCode.InvalidSpec, `invalid image reference "${ref}": ${why}`);
  if (ref === "") throw bad("empty");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw bad("the digest must be sha256:<64 hex digits>");
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`invalid tag "${tag}"`);
  }
  let registry = DEFAULT_REGISTRY;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    rest = rest.slice(slash + 1);
  } else if (!rest.includes("/")) {
    rest = `library/${rest}`;
  }
  if (!REPOSITORY_RE.test(rest)) throw bad(`invalid repository name "${rest}"`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { registry, repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The reference written back in its canonical form. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}
