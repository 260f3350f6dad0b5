/**
 * The few Linux system calls Node has no binding for, called through koffi: mount and unmount
 * (cheaper than spawning mount(8) for every container), mknod (overlay whiteouts, device nodes in
 * layers) and lsetxattr (opaque directories). Each throws an Error naming the call, the path and
 * errno's name on failure.
 */
import koffi from "koffi";
import { constants } from "node:os";

const libc = koffi.load("libc.so.6");
const mountFn = libc.func("int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)");
const umount2Fn = libc.func("int umount2(const char *target, int flags)");
const mknodFn = libc.func("int mknod(const char *path, uint32_t mode, uint64_t dev)");
const lsetxattrFn = libc.func("int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)");

/** mount(2) flags used by the engine. */
export const MountFlag = {
  ReadOnly: 1,
  NoSuid: 2,
  NoDev: 4,
  NoExec: 8,
  Remount: 32,
  Bind: 4096,
} as const;

/** umount2(2) flag: detach now, finish when no longer busy. */
const MNT_DETACH = 2;
/** errno when the target is not a mount point: unmounting it again is not an error. */
const EINVAL = 22;
/** errno when the target does not exist. */
const ENOENT = 2;

/** The symbolic name of an errno value, such as EPERM. */
function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/** An Error for a failed system call, with `code` set to the errno name, as Node's own. */
function syscallError(call: string, path: string): Error & { code: string; errno: number } {
  const errno = koffi.errno();
  const code = errnoName(errno);
  return Object.assign(new Error(`${call} ${path}: ${code}`), { code, errno });
}

/** Mounts `source` of type `fstype` at `target`, as mount(2). */
export function mount(source: string, target: string, fstype: string, flags: number, data: string): void {
  if (mountFn(source, target, fstype, flags, data) !== 0) throw syscallError("mount", target);
}

/** Detaches the mount at `target`; a path that is not (or no longer) mounted is fine. */
export function unmount(target: string): void {
  if (umount2Fn(target, MNT_DETACH) === 0) return;
  const errno = koffi.errno();
  if (errno === EINVAL || errno === ENOENT) return;
  throw syscallError("umount", target);
}

/** Creates a device node or fifo; `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
export function mknod(path: string, mode: number, major: number, minor: number): void {
  // glibc's makedev: the low 8 bits of minor and 12 of major in the low word, the rest above.
  const dev = (BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));
  if (mknodFn(path, mode, dev) !== 0) throw syscallError("mknod", path);
}

/** Sets an extended attribute on a path without following a final symlink. */
export function lsetxattr(path: string, name: string, value: string): void {
  const buf = Buffer.from(value);
  if (lsetxattrFn(path, name, buf, buf.length, 0) !== 0) throw syscallError("lsetxattr", path);
}
