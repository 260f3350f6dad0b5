/**
 * Finds a command in a root filesystem the way execvp would inside it: through PATH for a bare
 * name, with symlinks resolved relative to that root (an absolute link target inside an image
 * means the image's path, not the host's).
 */
import { accessSync, constants } from "node:fs";
import { lstat, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** Symlink hops before giving up, as the kernel's ELOOP limit. */
const MAX_SYMLINKS = 40;
/** PATH when the environment has none (Docker's default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The host path of `path` inside `root`, with every symlink followed within the root; undefined if missing. */
async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = await lstat(host).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINKS) return undefined;
      const target = await readlink(host);
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** Whether the host path is an executable regular file. */
async function isExecutable(host: string): Promise<boolean> {
  const st = await lstat(host).catch(() => undefined);
  return !!st && st.isFile() && (st.mode & 0o111) !== 0;
}

/**
 * Checks that `command` exists in `root` and returns its path inside the root; throws a
 * `command-not-found` ExecError naming `where` (such as the image) otherwise.
 */
export async function findCommand(root: string, command: string, pathEnv: string | undefined, cwd: string, where: string): Promise<string> {
  const candidates = command.includes("/")
    ? [posix.resolve(cwd, command)]
    : (pathEnv ?? DEFAULT_PATH).split(":").filter(Boolean).map((dir) => posix.join(dir, command));
  for (const c of candidates) {
    const host = await resolveInRoot(root, c);
    if (host && (await isExecutable(host))) return c;
  }
  throw new ExecError(ExecErrorCode.CommandNotFound, `command not found in ${where}: "${command}"${command.includes("/") ? "" : ` (searched PATH ${pathEnv ?? DEFAULT_PATH})`}`);
}

/** The value of a variable in a KEY=VALUE list (the last one wins). */
export function envValue(env: string[], key: string): string | undefined {
  let value: string | undefined;
  for (const e of env) if (e.startsWith(`${key}=`)) value = e.slice(key.length + 1);
  return value;
}

/** The absolute path of a program on this host's PATH; throws `command-not-found` when it is not installed. */
export function findHostBinary(name: string): string {
  const candidates = name.includes("/") ? [name] : (process.env.PATH ?? DEFAULT_PATH).split(":").filter(Boolean).map((d) => posix.join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return posix.resolve(c);
    } catch {
      // not here; try the next directory
    }
  }
  throw new ExecError(ExecErrorCode.CommandNotFound, `${name} is not installed on this node (not found on PATH)`);
}
