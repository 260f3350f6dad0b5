/**
 * Secrets and configs: their payloads come from the agent's memory and are written only to a
 * tmpfs mounted for the container (RAM, never the agent's disk), with the uid, gid and mode the
 * task asks for, then bind-mounted read-only at their targets inside the container.
 */
import { chmod, chown, mkdir, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import type { FileReference } from "../../../proto/gen/specs.ts";
import type { FileSource } from "../../exec/contract.ts";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import { MountFlag, mount, unmount } from "../../sys/libc.ts";
import type { OciMount } from "./bundle.ts";
import type { ContainerPaths } from "./paths.ts";

/** Where secrets go inside a container, as in Docker. */
const SECRETS_DIR = "/run/secrets";
/** Mode of a secret or config file when the task gives none (Docker's). */
const DEFAULT_FILE_MODE = 0o444;
/** Room on the tmpfs beyond the files' own size, for file system overhead. */
const TMPFS_SLACK_BYTES = 64 * 1024;

/** One file to place. */
interface Placed {
  ref: FileReference;
  data: Uint8Array;
  target: string;
}

/** Where a reference goes inside the container. */
function targetOf(ref: FileReference, secret: boolean): string {
  const t = ref.target || ref.name;
  const path = secret && !t.startsWith("/") ? posix.join(SECRETS_DIR, t) : t.startsWith("/") ? t : `/${t}`;
  if (posix.normalize(path) !== path || path.includes("/../")) throw new ExecError(ExecErrorCode.InvalidSpec, `invalid target "${t}" for ${secret ? "secret" : "config"} ${ref.name}`);
  return path;
}

/** Collects the payloads of a task's secrets and configs; throws `invalid-spec` for one the agent lacks. */
function collect(secrets: FileReference[], configs: FileReference[], source: FileSource | undefined): Placed[] {
  const out: Placed[] = [];
  for (const [refs, secret] of [[secrets, true], [configs, false]] as const) {
    for (const ref of refs) {
      const data = source?.get(ref.id);
      if (!data) throw new ExecError(ExecErrorCode.InvalidSpec, `${secret ? "secret" : "config"} ${ref.name} (${ref.id}) was not given to this node`);
      out.push({ ref, data, target: targetOf(ref, secret) });
    }
  }
  return out;
}

/**
 * Mounts a tmpfs at `paths.files`, writes the task's secrets and configs into it and returns
 * the bind mounts that put them in the container. No files: no tmpfs, no mounts.
 */
export async function placeFiles(paths: ContainerPaths, secrets: FileReference[], configs: FileReference[], source: FileSource | undefined): Promise<OciMount[]> {
  const files = collect(secrets, configs, source);
  if (files.length === 0) return [];
  const size = files.reduce((n, f) => n + f.data.length + 4096, TMPFS_SLACK_BYTES);
  await mkdir(paths.files, { recursive: true, mode: 0o700 });
  mount("tmpfs", paths.files, "tmpfs", MountFlag.NoSuid | MountFlag.NoDev | MountFlag.NoExec, `mode=0700,size=${size}`);
  const mounts: OciMount[] = [];
  for (const [i, f] of files.entries()) {
    const host = join(paths.files, String(i));
    await writeFile(host, f.data, { mode: 0o400 });
    await chown(host, f.ref.uid, f.ref.gid);
    await chmod(host, f.ref.mode || DEFAULT_FILE_MODE);
    mounts.push({ destination: f.target, type: "bind", source: host, options: ["bind", "ro", "nosuid", "nodev", "noexec"] });
  }
  return mounts;
}

/** Unmounts the files' tmpfs, dropping its contents from memory (fine if it was never mounted). */
export function removeFiles(paths: ContainerPaths): void {
  unmount(paths.files);
}
