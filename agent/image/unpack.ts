/**
 * Unpacks one layer (gzip-compressed or plain tar, sniffed) into a directory that overlayfs can
 * use as a lower layer: OCI whiteouts (`.wh.<name>`) become 0/0 character devices and opaque
 * markers (`.wh..wh..opq`) the `trusted.overlay.opaque` attribute, as containerd's overlay
 * snapshotter does. Ownership, modes and times are kept. No entry may leave the directory: `..`,
 * and paths through symlinks, are refused as a corrupt layer.
 */
import { createWriteStream } from "node:fs";
import { chmod, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { ExecError, ExecErrorCode, isExecError } from "../exec/errors.ts";
import { lsetxattr, mknod } from "../sys/libc.ts";
import { Hasher } from "./digest.ts";
import { readTar, TarType } from "./tar.ts";
import type { TarEntry } from "./tar.ts";

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** What unpacking a layer measured, for verification by the caller. */
export interface UnpackResult {
  /** Digest of the bytes as received (the layer's descriptor digest). */
  digest: string;
  /** Digest of the uncompressed tar (the layer's diff_id). */
  diffId: string;
}

/** A pass-through stream that hashes what flows through it. */
function hashing(h: Hasher): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
  });
}

/** Sniffs the first bytes (gzip streams start with 1f 8b) and yields the tar bytes, hashing them into `diff`. */
async function* decompress(source: AsyncIterable<Buffer>, diff: Hasher): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const all = (async function* () {
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  })();
  const gzip = first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b;
  for await (const chunk of gzip ? gunzip(all) : all) {
    diff.update(chunk);
    yield chunk;
  }
}

/** Gunzips an async iterable of chunks. */
async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip();
  const feeding = pipeline(source, z).catch((err: unknown) => z.destroy(err as Error));
  for await (const chunk of z) yield chunk as Buffer;
  await feeding;
}

/** Splits an archive path into safe components; throws for `..` or an empty path. */
function components(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw new ExecError(ExecErrorCode.CorruptLayer, `corrupt layer: entry "${path}" leaves the layer`);
  return parts;
}

/** Writes entries under one root, making sure none goes through a symlink or outside. */
class LayerWriter {
  private readonly dirs = new Set<string>([""]);
  private readonly dirTimes: { path: string; mtime: number }[] = [];

  constructor(private readonly root: string) {}

  /** Makes sure every ancestor of `parts` is a real directory inside the root; returns the host path. */
  private async parent(parts: string[]): Promise<string> {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join("/");
      if (this.dirs.has(rel)) continue;
      const st = await lstat(join(this.root, rel)).catch(() => undefined);
      if (!st) await mkdir(join(this.root, rel), { mode: 0o755 });
      else if (!st.isDirectory()) throw new ExecError(ExecErrorCode.CorruptLayer, `corrupt layer: "${parts.join("/")}" goes through "${rel}", which is not a directory`);
      this.dirs.add(rel);
    }
    return join(this.root, ...parts);
  }

  /** Applies one entry. */
  async apply(e: TarEntry): Promise<void> {
    const parts = components(e.path);
    if (parts.length === 0) return; // the root itself ("./")
    const base = parts[parts.length - 1]!;
    if (base === OPAQUE_MARKER) {
      const dir = await this.parent([...parts.slice(0, -1), "x"]);
      lsetxattr(dirname(dir), "trusted.overlay.opaque", "y");
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const target = await this.parent([...parts.slice(0, -1), base.slice(WHITEOUT_PREFIX.length)]);
      await rm(target, { recursive: true, force: true });
      mknod(target, S_IFCHR, 0, 0);
      return;
    }
    const target = await this.parent(parts);
    const existing = await lstat(target).catch(() => undefined);
    if (existing && !(existing.isDirectory() && e.type === TarType.Directory)) await rm(target, { recursive: true, force: true });
    switch (e.type) {
      case TarType.Directory:
        if (!existing?.isDirectory()) await mkdir(target, { mode: 0o755 });
        this.dirs.add(parts.join("/"));
        this.dirTimes.push({ path: target, mtime: e.mtime });
        break;
      case TarType.Symlink:
        await symlink(e.linkname, target);
        break;
      case TarType.HardLink:
        await link(await this.parent(components(e.linkname)), target);
        return; // a hard link shares the target's owner, mode and times
      case TarType.CharDevice:
      case TarType.BlockDevice:
      case TarType.Fifo: {
        const kind = e.type === TarType.CharDevice ? S_IFCHR : e.type === TarType.BlockDevice ? S_IFBLK : S_IFIFO;
        mknod(target, kind | e.mode, e.devmajor, e.devminor);
        break;
      }
      default: // regular files ("0", NUL, "7"); unknown types are written as files too, as GNU tar does
        await pipeline(e.body(), createWriteStream(target, { mode: 0o600 }));
    }
    await lchown(target, e.uid, e.gid);
    if (e.type !== TarType.Symlink) await chmod(target, e.mode); // after chown, which clears setuid bits
    if (e.type === TarType.Symlink) await lutimes(target, e.mtime, e.mtime);
    else if (e.type !== TarType.Directory) await utimes(target, e.mtime, e.mtime);
  }

  /** Sets directory times last, since creating their children changed them. */
  async finish(): Promise<void> {
    for (const d of this.dirTimes.reverse()) await utimes(d.path, d.mtime, d.mtime);
  }
}

/**
 * Unpacks `blob` into `root` (which must exist and be empty) and returns the digests of what it
 * read. A stream that is not gzip or tar, or a damaged one, throws a `corrupt-layer` ExecError
 * naming `what`.
 */
export async function unpackLayer(blob: Readable, root: string, what: string): Promise<UnpackResult> {
  const raw = new Hasher();
  const diff = new Hasher();
  const writer = new LayerWriter(root);
  try {
    const hashed = hashing(raw);
    blob.on("error", (err) => hashed.destroy(err));
    const tar = decompress(blob.pipe(hashed), diff);
    for await (const entry of readTar(tar)) await writer.apply(entry);
    for await (const _ of tar); // the padding after the end-of-archive blocks still counts for both digests
    await writer.finish();
  } catch (err) {
    blob.destroy();
    if (isExecError(err)) throw new ExecError(err.code, `${err.message} (${what})`, err.cause);
    const code = (err as { code?: string }).code ?? "";
    if (code.startsWith("Z_") || code === "ERR_INVALID_STATE") throw new ExecError(ExecErrorCode.CorruptLayer, `corrupt layer ${what}: ${(err as Error).message}`, err);
    throw err;
  }
  return { digest: raw.digest(), diffId: diff.digest() };
}
