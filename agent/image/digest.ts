/** Content digests (`sha256:<hex>`) and their verification. */
import { createHash } from "node:crypto";
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** The only digest algorithm registries use in practice, and the only one accepted. */
const ALGORITHM = "sha256";

/** The digest of some bytes. */
export function digestOf(bytes: Uint8Array): string {
  return `${ALGORITHM}:${createHash(ALGORITHM).update(bytes).digest("hex")}`;
}

/** The hex part of a digest, usable as a file name; throws for a malformed digest. */
export function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new ExecError(ExecErrorCode.InvalidSpec, `unsupported or malformed digest "${digest}"`);
  return m[1]!;
}

/** Throws a `digest-mismatch` error when `actual` is not `expected`; `what` names the content. */
export function checkDigest(what: string, expected: string, actual: string): void {
  if (expected !== actual) throw new ExecError(ExecErrorCode.DigestMismatch, `digest mismatch for ${what}: expected ${expected}, got ${actual}`);
}

/** An incremental sha256 whose result is a digest string. */
export class Hasher {
  private readonly hash = createHash(ALGORITHM);
  /** Adds bytes. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  /** The digest of everything added. */
  digest(): string {
    return `${ALGORITHM}:${this.hash.digest("hex")}`;
  }
}
