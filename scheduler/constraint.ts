/**
 * Placement constraints in Docker's syntax: `<attribute>==<value>` or `<attribute>!=<value>`,
 * for instance `node.labels.zone==eu` or `node.role!=manager`. Values compare without regard
 * to case, as in Docker; a label a node lacks has the value "".
 */
import { ALLOWED_ATTRIBUTES, normalizeArch, parseAttributeKey } from "./attributes.ts";
import type { AttributeKey } from "./attributes.ts";
import { PlacementError, PlacementErrorCode } from "./errors.ts";

/** One parsed constraint. */
export interface Constraint {
  /** The expression in canonical form, as explanations quote it: `node.labels.zone==eu`. */
  readonly expression: string;
  /** The attribute it tests. */
  readonly key: AttributeKey;
  /** True for `==`, false for `!=`. */
  readonly equal: boolean;
  /** The value, folded to lower case: compare it with a folded attribute value. */
  readonly value: string;
}

const OPERATORS = ["==", "!="] as const;

/** Docker's pattern for a constraint value (letters, digits, spaces and the characters listed). */
const VALUE_PATTERN = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;
const VALUE_CHARACTERS = "letters, digits, spaces and : - _ . * ( ) ? + [ ] \\ ^ $ | /";
const EXAMPLE = "as in node.labels.zone==eu or node.role!=manager";
const ROLES = ["manager", "worker"];

/** Parses one constraint expression; throws a {@link PlacementError} that says what is wrong. */
export function parseConstraint(text: string): Constraint {
  const fail = (why: string): never => {
    throw new PlacementError(PlacementErrorCode.INVALID_CONSTRAINT, `invalid constraint "${text}": ${why}`);
  };
  const found = OPERATORS.map((op) => ({ op, at: text.indexOf(op) })).filter((o) => o.at >= 0);
  if (found.length === 0) {
    const single = text.includes("=") ? " (a single = is not an operator)" : "";
    return fail(`expected == or != between an attribute and a value${single}, ${EXAMPLE}`);
  }
  const { op, at } = found.reduce((a, b) => (b.at < a.at ? b : a));
  const keyText = text.slice(0, at).trim();
  const rawValue = text.slice(at + op.length).trim();
  if (keyText === "") fail(`no attribute before ${op}; allowed attributes: ${ALLOWED_ATTRIBUTES}`);
  const key = parseAttributeKey(keyText);
  if (!key) return fail(`unknown attribute "${keyText}"; allowed attributes: ${ALLOWED_ATTRIBUTES}`);
  if (rawValue === "") fail(`no value after ${op}, ${EXAMPLE}`);
  if (!VALUE_PATTERN.test(rawValue)) fail(`the value "${rawValue}" may only hold ${VALUE_CHARACTERS}`);
  let value = rawValue.toLowerCase();
  if (key.kind === "node.role" && !ROLES.includes(value)) fail(`node.role is manager or worker, not "${rawValue}"`);
  if (key.kind === "node.platform.arch") value = normalizeArch(value);
  return { expression: `${key.name}${op}${rawValue}`, key, equal: op === "==", value };
}

/** Whether a node whose attribute has `foldedValue` (lower case) satisfies the constraint. */
export function satisfies(constraint: Constraint, foldedValue: string): boolean {
  return (foldedValue === constraint.value) === constraint.equal;
}
