/** The task's own mounts (bind, named volume, tmpfs) as OCI mounts. */
import { mkdir, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import type { Mount } from "../../../proto/gen/specs.ts";
import { MountType } from "../../../proto/gen/specs.ts";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { OciMount } from "./bundle.ts";

/** Names a local volume may have (Docker's rule), so a name can never be a path. */
const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Resolves one mount; volumes are created under `volumesDir` on first use. */
async function resolveMount(m: Mount, volumesDir: string): Promise<OciMount> {
  const bad = (why: string): ExecError => new ExecError(ExecErrorCode.InvalidSpec, `mount at "${m.target}": ${why}`);
  if (!m.target.startsWith("/") || posix.normalize(m.target) !== m.target) throw bad("the target must be a clean absolute path");
  const rw = m.readOnly ? "ro" : "rw";
  switch (m.type) {
    case MountType.MOUNT_BIND: {
      if (!m.source.startsWith("/")) throw bad(`bind source "${m.source}" is not an absolute host path`);
      if (!(await stat(m.source).catch(() => undefined))) throw bad(`bind source "${m.source}" does not exist on this node`);
      return { destination: m.target, type: "bind", source: m.source, options: ["rbind", rw] };
    }
    case MountType.MOUNT_VOLUME: {
      if (!VOLUME_NAME_RE.test(m.source)) throw bad(`invalid volume name "${m.source}"`);
      const dir = join(volumesDir, m.source);
      await mkdir(dir, { recursive: true });
      return { destination: m.target, type: "bind", source: dir, options: ["rbind", rw] };
    }
    case MountType.MOUNT_TMPFS: {
      const options = ["nosuid", "nodev", rw, `mode=${(m.tmpfsMode || 0o1777).toString(8)}`];
      if (m.tmpfsSizeBytes) options.push(`size=${m.tmpfsSizeBytes}`);
      return { destination: m.target, type: "tmpfs", source: "tmpfs", options };
    }
    default:
      throw bad(`unknown mount type ${String(m.type)}`);
  }
}

/** Resolves a task's mounts, in order. */
export function resolveMounts(mounts: Mount[], volumesDir: string): Promise<OciMount[]> {
  return Promise.all(mounts.map((m) => resolveMount(m, volumesDir)));
}
