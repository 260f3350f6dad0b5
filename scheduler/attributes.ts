/**
 * The node attributes that constraints and spread preferences name, in Docker's syntax, and
 * how to read each one from a Node. Attribute prefixes are case-insensitive; label names are
 * case-sensitive, as in Docker.
 */
import type { Node } from "../proto/gen/objects.ts";
import { NodeRole } from "../proto/gen/specs.ts";

/** An attribute with one value per node. */
export type FixedAttribute = "node.id" | "node.hostname" | "node.role" | "node.platform.os" | "node.platform.arch";
/** A family of attributes, one per label name. */
export type LabelAttribute = "node.labels" | "engine.labels";

/** Which attribute of a node an expression names. */
export type AttributeKey =
  | { readonly kind: FixedAttribute; readonly name: string }
  | { readonly kind: LabelAttribute; readonly name: string; readonly label: string };

const FIXED: readonly FixedAttribute[] = ["node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch"];
const LABEL_FAMILIES: readonly LabelAttribute[] = ["node.labels", "engine.labels"];

/** The attribute names a user may write, for error messages. */
export const ALLOWED_ATTRIBUTES = [...FIXED, ...LABEL_FAMILIES.map((f) => `${f}.<label>`)].join(", ");

/** The label attribute names a user may write, for error messages. */
export const ALLOWED_LABEL_ATTRIBUTES = LABEL_FAMILIES.map((f) => `${f}.<label>`).join(" or ");

/** Docker's pattern for a constraint key: a letter or `_`, then letters, digits, `-`, `_`, `.`. */
const KEY_PATTERN = /^[a-z_][a-z0-9\-_.]+$/i;

/**
 * Architecture names as engines report them (uname) mapped to the names images use (Go's
 * GOARCH), so that `node.platform.arch==amd64` matches a node that says x86_64.
 */
const ARCH_ALIASES: Readonly<Record<string, string>> = { x86_64: "amd64", aarch64: "arm64" };

/** Maps an architecture name to the one images use (x86_64 → amd64, aarch64 → arm64). */
export function normalizeArch(arch: string): string {
  return ARCH_ALIASES[arch] ?? arch;
}

/** Parses an attribute name such as `node.labels.zone`; undefined when it names none. */
export function parseAttributeKey(text: string): AttributeKey | undefined {
  if (!KEY_PATTERN.test(text)) return undefined;
  const lower = text.toLowerCase();
  const fixed = FIXED.find((k) => k === lower);
  if (fixed) return { kind: fixed, name: fixed };
  for (const family of LABEL_FAMILIES) {
    const prefix = `${family}.`;
    if (lower.startsWith(prefix) && text.length > prefix.length) {
      const label = text.slice(prefix.length);
      return { kind: family, name: `${family}.${label}`, label };
    }
  }
  return undefined;
}

/** The value of an attribute on a node; "" when the node does not have it. */
export function attributeValue(node: Node, key: AttributeKey): string {
  switch (key.kind) {
    case "node.id":
      return node.id;
    case "node.hostname":
      return node.description?.hostname ?? "";
    case "node.role":
      return node.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker";
    case "node.platform.os":
      return node.description?.platform?.os ?? "";
    case "node.platform.arch":
      return normalizeArch(node.description?.platform?.architecture ?? "");
    case "node.labels":
      return node.spec?.annotations?.labels[key.label] ?? "";
    case "engine.labels":
      return node.description?.engineLabels[key.label] ?? "";
  }
}
