/** This node's OCI platform, and the choice of a manifest from an image index for it. */
import type { Descriptor } from "./media.ts";

/** An OCI platform: operating system, architecture and optional variant. */
export interface OciPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's `process.arch` names mapped to OCI architecture names (and the variant they imply). */
const ARCH: Record<string, OciPlatform> = {
  x64: { os: "linux", architecture: "amd64" },
  arm64: { os: "linux", architecture: "arm64", variant: "v8" },
  arm: { os: "linux", architecture: "arm", variant: "v7" },
  ia32: { os: "linux", architecture: "386" },
  ppc64: { os: "linux", architecture: "ppc64le" },
  s390x: { os: "linux", architecture: "s390x" },
  riscv64: { os: "linux", architecture: "riscv64" },
};

/** The platform of the machine this process runs on. */
export function hostPlatform(): OciPlatform {
  return ARCH[process.arch] ?? { os: process.platform, architecture: process.arch };
}

/** Whether a descriptor's platform can run on `want`; arm64 entries without a variant count as v8. */
function matches(d: Descriptor, want: OciPlatform): boolean {
  const p = d.platform;
  if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
  return p.variant === undefined || want.variant === undefined || p.variant === want.variant;
}

/** The manifest of an index that runs on `want`, preferring an exact variant match; undefined if none. */
export function selectManifest(manifests: Descriptor[], want: OciPlatform): Descriptor | undefined {
  const candidates = manifests.filter((d) => matches(d, want));
  return candidates.find((d) => d.platform?.variant === want.variant) ?? candidates[0];
}

/** A platform written as os/arch[/variant]. */
export function formatPlatform(p: OciPlatform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}
