/**
 * A streaming reader of tar archives (POSIX ustar, with PAX extended headers and GNU long names),
 * enough for image layers. Entry bodies are streamed, never buffered whole. Malformed input
 * throws a `corrupt-layer` ExecError.
 */
import { ExecError, ExecErrorCode } from "../exec/errors.ts";

/** Tar's block size: headers and padded bodies come in blocks of this many bytes. */
const BLOCK = 512;
/** PAX and GNU long-name records are read into memory; larger ones mean a broken archive. */
const MAX_META_BYTES = 1024 * 1024;

/** Entry types, by their typeflag character. */
export const TarType = {
  File: "0",
  HardLink: "1",
  Symlink: "2",
  CharDevice: "3",
  BlockDevice: "4",
  Directory: "5",
  Fifo: "6",
} as const;

/** One entry's header; read its body with `body()` before asking for the next entry. */
export interface TarEntry {
  path: string;
  /** A typeflag, see {@link TarType}; "0" for regular files (also written as NUL). */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time in seconds. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** The entry's content, in chunks. */
  body(): AsyncGenerator<Buffer>;
}

/** Hands out exact byte counts from a stream of chunks. */
class ChunkReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Fills the buffer to at least n bytes; false if the stream ended first. */
  private async fill(n: number): Promise<boolean> {
    while (this.length < n) {
      const r = await this.it.next();
      if (r.done) return false;
      this.buffered.push(r.value);
      this.length += r.value.length;
    }
    return true;
  }

  /** Exactly n bytes, or undefined at a clean end of stream (nothing buffered). */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.length === 0) return undefined;
      throw corrupt("archive ends in the middle of a block");
    }
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    this.buffered = all.length > n ? [all.subarray(n)] : [];
    this.length = all.length - n;
    return all.subarray(0, n);
  }

  /** Streams n bytes in chunks as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) throw corrupt("archive ends in the middle of a file");
      const head = this.buffered[0]!;
      const take = Math.min(left, head.length);
      const out = head.subarray(0, take);
      if (take === head.length) this.buffered.shift();
      else this.buffered[0] = head.subarray(take);
      this.length -= take;
      left -= take;
      yield out;
    }
  }

  /** Skips n bytes. */
  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }
}

/** A `corrupt-layer` error. */
function corrupt(why: string): ExecError {
  return new ExecError(ExecErrorCode.CorruptLayer, `corrupt layer: ${why}`);
}

/** A NUL-terminated string field. */
function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString("utf8", off, end < 0 || end > off + len ? off + len : end);
}

/** A numeric field: octal text, or big-endian base-256 when the high bit of the first byte is set. */
function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const text = str(b, off, len).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`bad numeric field "${text}" in a tar header`);
  return parseInt(text, 8);
}

/** Whether a header's checksum (bytes 148-155 counted as spaces) matches. */
function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === num(h, 148, 8);
}

/** Parses PAX records ("<len> key=value\n"). */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(32, off);
    if (space < 0) break;
    const len = parseInt(data.toString("ascii", off, space), 10);
    if (!(len > 0)) throw corrupt("bad PAX record");
    const record = data.toString("utf8", space + 1, off + len - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    off += len;
  }
  return out;
}

/** Reads a meta entry's body (PAX or GNU long name) into memory. */
async function readMeta(r: ChunkReader, size: number): Promise<Buffer> {
  if (size > MAX_META_BYTES) throw corrupt(`extended header of ${size} bytes`);
  const data = (await r.read(size)) ?? Buffer.alloc(0);
  await r.skip((BLOCK - (size % BLOCK)) % BLOCK);
  return data;
}

/** The entries of a tar stream, in order. Each entry's body must be consumed (or is skipped) before the next. */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ChunkReader(source);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.read(BLOCK);
    if (!h || h.every((x) => x === 0)) return; // end-of-archive blocks (or a bare end of stream)
    if (!checksumOk(h)) throw corrupt("tar header checksum mismatch");
    const type = String.fromCharCode(h[156]! || 48);
    const size = num(h, 124, 12);
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      const data = await readMeta(r, size);
      if (type === "x") pax = parsePax(data);
      else if (type === "L") longName = str(data, 0, data.length);
      else if (type === "K") longLink = str(data, 0, data.length);
      continue; // global PAX headers ("g") carry nothing a layer needs
    }
    const prefix = h.toString("ascii", 257, 262) === "ustar" ? str(h, 345, 155) : "";
    const name = str(h, 0, 100);
    const realSize = pax.size !== undefined ? Number(pax.size) : size;
    let consumed = false;
    const entry: TarEntry = {
      path: pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: num(h, 100, 8) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : num(h, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : num(h, 116, 8),
      size: type === TarType.File || type === "7" ? realSize : 0,
      mtime: pax.mtime !== undefined ? Math.floor(Number(pax.mtime)) : num(h, 136, 12),
      linkname: pax.linkpath ?? longLink ?? str(h, 157, 100),
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
      body: () => {
        consumed = true;
        return r.stream(entry.size);
      },
    };
    pax = {};
    longName = longLink = undefined;
    yield entry;
    if (!consumed) await r.skip(realSize);
    else if (entry.size !== realSize) await r.skip(realSize - entry.size);
    await r.skip((BLOCK - (realSize % BLOCK)) % BLOCK);
  }
}
