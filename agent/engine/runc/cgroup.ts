/** Reads what the kernel's memory cgroup says about a container: whether the OOM killer struck. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** Root of the cgroup file systems. */
const CGROUP_ROOT = "/sys/fs/cgroup";

/** Whether the OOM killer killed a process in the cgroup (v1 hierarchy or unified v2). */
export async function oomKilled(cgroupsPath: string): Promise<boolean> {
  const files = [join(CGROUP_ROOT, "memory", cgroupsPath, "memory.oom_control"), join(CGROUP_ROOT, cgroupsPath, "memory.events")];
  for (const f of files) {
    const text = await readFile(f, "utf8").catch(() => undefined);
    const m = text && /^oom_kill (\d+)$/m.exec(text);
    if (m) return Number(m[1]) > 0;
  }
  return false;
}

/** The cgroup path (relative to each hierarchy's root) shoal gives a container. */
export function cgroupPathOf(containerId: string): string {
  return `/shoal/${containerId}`;
}
