import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { RootCA } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { CAError } from "./errors.ts";
import { generateJoinTokens, parseJoinToken, roleForJoinToken, rotateJoinToken } from "./join-token.ts";

// Join tokens only read the CA's digest, so these tests need no real CA.
const digest = createHash("sha256").update("a root CA certificate").digest("hex");
const rootCa: RootCA = { caCertPem: "", caKeyPem: "", caCertDigest: digest, joinTokens: generateJoinTokens(digest) };

function refusedAs(kind: CAError["kind"], message: RegExp) {
  return (err: unknown): boolean => err instanceof CAError && err.kind === kind && message.test(err.message);
}

test("a token reads SHOAL-1-<CA digest>-<secret> and parses back to its digest", () => {
  const token = rootCa.joinTokens!.worker;
  assert.match(token, /^SHOAL-1-[0-9a-f]{64}-[a-z2-7]{25}$/);
  assert.equal(parseJoinToken(token).caDigest, digest);
  assert.equal(parseJoinToken(`  ${token}\n`).caDigest, digest, "whitespace from copy and paste is ignored");
});

test("each token admits its own role", () => {
  assert.equal(roleForJoinToken(rootCa, rootCa.joinTokens!.worker), NodeRole.NODE_ROLE_WORKER);
  assert.equal(roleForJoinToken(rootCa, rootCa.joinTokens!.manager), NodeRole.NODE_ROLE_MANAGER);
});

test("a malformed token is refused with a message that states the format and what is wrong, without echoing the token", () => {
  const secret = rootCa.joinTokens!.worker.split("-")[3]!;
  const cases: [string, RegExp][] = [
    ["", /it has 1 parts/],
    ["SWMTKN-1-" + digest + "-" + secret, /does not start with SHOAL-/],
    ["SHOAL-2-" + digest + "-" + secret, /version 2 is not one this shoal reads/],
    ["SHOAL-1-" + digest.slice(0, 40) + "-" + secret, /the CA digest must be 64 lower-case hex digits \(it has 40 characters\)/],
    ["SHOAL-1-" + digest + "-" + secret.toUpperCase(), /the secret must be 25 characters of a-z and 2-7/],
    ["SHOAL-1-" + digest + "-" + secret + "-extra", /it has 5 parts/],
  ];
  for (const [token, problem] of cases) {
    assert.throws(() => parseJoinToken(token), refusedAs("MALFORMED_TOKEN", problem), token);
    assert.throws(() => parseJoinToken(token), /a join token looks like SHOAL-1-<CA digest: 64 hex digits>-<secret: 25 characters a-z, 2-7>/);
    assert.throws(() => roleForJoinToken(rootCa, token), (err: Error) => !err.message.includes(secret), "the secret is not repeated");
  }
});

test("a well-formed but wrong token is refused, and so is a token pinning another CA", () => {
  const wrong = `SHOAL-1-${digest}-${"a".repeat(25)}`;
  assert.throws(() => roleForJoinToken(rootCa, wrong), refusedAs("INVALID_TOKEN", /neither this cluster's current worker token nor its manager token/));
  const otherDigest = createHash("sha256").update("another CA").digest("hex");
  const foreign = rootCa.joinTokens!.manager.replace(digest, otherDigest);
  assert.throws(() => roleForJoinToken(rootCa, foreign), refusedAs("INVALID_TOKEN", /pins a different root CA/));
});

test("rotating a role's token makes the old one useless and leaves the other role's token alone", () => {
  const rotated = rotateJoinToken(rootCa, NodeRole.NODE_ROLE_WORKER);
  assert.notEqual(rotated.joinTokens!.worker, rootCa.joinTokens!.worker);
  assert.equal(rotated.joinTokens!.manager, rootCa.joinTokens!.manager);
  assert.throws(() => roleForJoinToken(rotated, rootCa.joinTokens!.worker), refusedAs("INVALID_TOKEN", /rotated token stops working/));
  assert.equal(roleForJoinToken(rotated, rotated.joinTokens!.worker), NodeRole.NODE_ROLE_WORKER);
  assert.equal(roleForJoinToken(rotated, rootCa.joinTokens!.manager), NodeRole.NODE_ROLE_MANAGER);
});
