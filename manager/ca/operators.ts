/**
 * Operator certificates' rules beyond signing: who may get one, and revocation. A revoked name
 * (Cluster.revoked_operators) is refused forever: every certificate that carries it is refused
 * on every call from the moment the revocation commits, and none is issued for it again. An
 * operator may renew its own certificate but not get one for another name, so revoking a name
 * also cuts off every certificate its holder got: a leaked CI runner's certificate is ended by
 * one `shoal cluster revoke-client-cert NAME`. Managers (and the owner-only local socket) issue
 * certificates for any name that is not revoked.
 */
import type { Cluster } from "../../proto/gen/objects.ts";
import { CAError } from "./errors.ts";
import { CertRole, OPERATOR_NAME_PATTERN, OPERATOR_NAME_RULE } from "./identity.ts";
import type { CertIdentity } from "./identity.ts";

/** Whether certificates for the operator called `name` are revoked in `cluster`. */
export function isOperatorRevoked(cluster: Cluster, name: string): boolean {
  return cluster.revokedOperators.includes(name);
}

/**
 * Checks that an operator certificate named `name` may be issued to `caller` (undefined: the
 * local socket). Throws a {@link CAError}: REVOKED when the name is revoked, WRONG_ROLE when an
 * operator asks for another name than its own. The signer checks the name's form and the CSR.
 */
export function checkOperatorIssuance(cluster: Cluster, name: string, caller: CertIdentity | undefined): void {
  if (isOperatorRevoked(cluster, name)) {
    throw new CAError("REVOKED", `operator certificates named ${JSON.stringify(name)} were revoked and are never issued again: choose another name`);
  }
  if (caller?.role === CertRole.OPERATOR && caller.operator !== name) {
    throw new CAError("WRONG_ROLE", `operator ${caller.operator} may renew its own certificate, not get one named ${JSON.stringify(name)}: ask a manager (its socket, or a manager's certificate) for that`);
  }
}

/**
 * The revoked operator names of `cluster` with `names` added, in the order they were revoked.
 * Throws a BAD_REQUEST {@link CAError} naming the first name that no certificate could carry.
 */
export function revokeOperatorNames(cluster: Cluster, names: readonly string[]): string[] {
  const revoked = [...cluster.revokedOperators];
  for (const name of names) {
    if (!OPERATOR_NAME_PATTERN.test(name)) {
      throw new CAError("BAD_REQUEST", `cannot revoke operator name ${JSON.stringify(name)}: no certificate carries it (names are ${OPERATOR_NAME_RULE})`);
    }
    if (!revoked.includes(name)) revoked.push(name);
  }
  return revoked;
}
