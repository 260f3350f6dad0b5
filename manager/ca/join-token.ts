/**
 * Join tokens: `SHOAL-1-<digest>-<secret>`, one per role. The digest is the SHA-256 of the root CA
 * certificate (hex), so a joining node can recognise the real CA before it trusts anything; the
 * secret is what the CA checks. Rotating a role's token replaces its secret: the old token stops
 * working at once, and nodes that already joined are unaffected.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { JoinTokens, RootCA } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { CAError } from "./errors.ts";
import { randomBase32 } from "./ids.ts";

/** The first field of every token; makes a token recognisable when it leaks into a log or a repository. */
export const JOIN_TOKEN_PREFIX = "SHOAL";
/** The token format version this code reads and writes. */
export const JOIN_TOKEN_VERSION = "1";
/** Secret length in base32 characters: 125 random bits, beyond guessing through an RPC. */
export const JOIN_TOKEN_SECRET_LENGTH = 25;

const FORMAT = `SHOAL-1-<CA digest: 64 hex digits>-<secret: ${JOIN_TOKEN_SECRET_LENGTH} characters a-z, 2-7>`;
const DIGEST_PATTERN = /^[0-9a-f]{64}$/;
const SECRET_PATTERN = new RegExp(`^[a-z2-7]{${JOIN_TOKEN_SECRET_LENGTH}}$`);

/** The parts of a well-formed join token. */
export interface ParsedJoinToken {
  /** The SHA-256 of the root CA certificate's DER, hex: the CA the token pins. */
  caDigest: string;
  secret: string;
}

/** A new token for a cluster whose root CA certificate has digest `caDigest`. */
export function generateJoinToken(caDigest: string): string {
  return `${JOIN_TOKEN_PREFIX}-${JOIN_TOKEN_VERSION}-${caDigest}-${randomBase32(JOIN_TOKEN_SECRET_LENGTH)}`;
}

/** A new worker token and a new manager token. */
export function generateJoinTokens(caDigest: string): JoinTokens {
  return { worker: generateJoinToken(caDigest), manager: generateJoinToken(caDigest) };
}

/** What is wrong with a token's parts, or undefined when nothing is. */
function formatProblem(parts: string[]): string | undefined {
  const [prefix, version, digest, secret] = parts;
  if (parts.length !== 4) return `it has ${parts.length} parts separated by "-", not 4`;
  if (prefix !== JOIN_TOKEN_PREFIX) return `it does not start with ${JOIN_TOKEN_PREFIX}-`;
  if (version !== JOIN_TOKEN_VERSION) return `version ${version} is not one this shoal reads (${JOIN_TOKEN_VERSION})`;
  if (!DIGEST_PATTERN.test(digest!)) return `the CA digest must be 64 lower-case hex digits (it has ${digest!.length} characters)`;
  if (!SECRET_PATTERN.test(secret!)) return `the secret must be ${JOIN_TOKEN_SECRET_LENGTH} characters of a-z and 2-7 (it has ${secret!.length} characters)`;
  return undefined;
}

/**
 * Splits a token (surrounding whitespace ignored) into its digest and secret; throws a
 * MALFORMED_TOKEN {@link CAError} that states the format and what is wrong. The message never
 * repeats the token, which is a secret.
 */
export function parseJoinToken(token: string): ParsedJoinToken {
  const parts = token.trim().split("-");
  const problem = formatProblem(parts);
  if (problem) throw new CAError("MALFORMED_TOKEN", `malformed join token: ${problem}; a join token looks like ${FORMAT}`);
  return { caDigest: parts[2]!, secret: parts[3]! };
}

/** Compares two strings in time that does not depend on where they differ. */
function constantTimeEquals(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * The role a token admits to the cluster of `rootCa`; throws a {@link CAError} when the token is
 * malformed, pins another CA, or is not one of the cluster's current tokens. Both tokens are
 * always compared, in constant time, so timing tells nothing about either.
 */
export function roleForJoinToken(rootCa: RootCA, token: string): NodeRole {
  const { caDigest } = parseJoinToken(token);
  if (caDigest !== rootCa.caCertDigest) {
    throw new CAError("INVALID_TOKEN", "invalid join token: it pins a different root CA than this cluster's; it belongs to another cluster, or this cluster's CA was replaced");
  }
  const presented = token.trim();
  const isWorker = constantTimeEquals(presented, rootCa.joinTokens?.worker ?? "");
  const isManager = constantTimeEquals(presented, rootCa.joinTokens?.manager ?? "");
  if (isManager) return NodeRole.NODE_ROLE_MANAGER;
  if (isWorker) return NodeRole.NODE_ROLE_WORKER;
  throw new CAError("INVALID_TOKEN", "invalid join token: it is neither this cluster's current worker token nor its manager token (a rotated token stops working; ask a manager for `shoal cluster join-token worker|manager`)");
}

/** `rootCa` with a new token for `role`; the old token of that role no longer admits anyone. */
export function rotateJoinToken(rootCa: RootCA, role: NodeRole): RootCA {
  const tokens = rootCa.joinTokens ?? generateJoinTokens(rootCa.caCertDigest);
  const fresh = generateJoinToken(rootCa.caCertDigest);
  const joinTokens = role === NodeRole.NODE_ROLE_MANAGER ? { ...tokens, manager: fresh } : { ...tokens, worker: fresh };
  return { ...rootCa, joinTokens };
}
