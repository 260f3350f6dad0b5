/**
 * HPACK (RFC 7541) for the control API's own HTTP/2 server: a decoder of one connection's header
 * blocks, with its dynamic table, and an encoder of response header blocks that never indexes
 * (so it keeps no state). The Huffman code is in huffman.ts.
 *
 * Decoding is on every request's path. Header strings are latin1 (one char per byte); entries
 * of the dynamic table are kept as strings in a ring, and an indexed field returns the very
 * strings stored there, so a typical request after the first (mostly indexed fields) allocates
 * only its result array.
 */
import {
  huffmanDecodeInto,
  huffmanEncodedLengthLatin1,
  huffmanEncodeLatin1Into,
  huffmanMaxDecodedLength,
} from "./huffman.ts";

/** A malformed header block or one beyond the limits: a connection error COMPRESSION_ERROR for HTTP/2 (RFC 7540 §4.3), except `tooLarge` ones. */
export class HpackError extends Error {
  /** True when the block was well-formed so far but its decoded header list exceeded the caller's limit (the caller may answer with a stream error instead). */
  readonly tooLarge: boolean;

  /** `tooLarge`: see the field; false (a malformed block) unless given. */
  constructor(message: string, tooLarge = false) {
    super(message);
    this.name = "HpackError";
    this.tooLarge = tooLarge;
  }
}

/** The static table (RFC 7541 Appendix A), 1-based: index 0 is unused. */
const STATIC_NAMES: readonly string[] = [""];
const STATIC_VALUES: readonly string[] = [""];
/** Name → the smallest static index with that name (for the encoder). */
const STATIC_NAME_INDEX = new Map<string, number>();
{
  const entries = [
    ":authority", "",
    ":method", "GET",
    ":method", "POST",
    ":path", "/",
    ":path", "/index.html",
    ":scheme", "http",
    ":scheme", "https",
    ":status", "200",
    ":status", "204",
    ":status", "206",
    ":status", "304",
    ":status", "400",
    ":status", "404",
    ":status", "500",
    "accept-charset", "",
    "accept-encoding", "gzip, deflate",
    "accept-language", "",
    "accept-ranges", "",
    "accept", "",
    "access-control-allow-origin", "",
    "age", "",
    "allow", "",
    "authorization", "",
    "cache-control", "",
    "content-disposition", "",
    "content-encoding", "",
    "content-language", "",
    "content-length", "",
    "content-location", "",
    "content-range", "",
    "content-type", "",
    "cookie", "",
    "date", "",
    "etag", "",
    "expect", "",
    "expires", "",
    "from", "",
    "host", "",
    "if-match", "",
    "if-modified-since", "",
    "if-none-match", "",
    "if-range", "",
    "if-unmodified-since", "",
    "last-modified", "",
    "link", "",
    "location", "",
    "max-forwards", "",
    "proxy-authenticate", "",
    "proxy-authorization", "",
    "range", "",
    "referer", "",
    "refresh", "",
    "retry-after", "",
    "server", "",
    "set-cookie", "",
    "strict-transport-security", "",
    "transfer-encoding", "",
    "user-agent", "",
    "vary", "",
    "via", "",
    "www-authenticate", "",
  ];
  const names = STATIC_NAMES as string[];
  const values = STATIC_VALUES as string[];
  for (let i = 0; i < entries.length; i += 2) {
    names.push(entries[i]);
    values.push(entries[i + 1]);
    if (!STATIC_NAME_INDEX.has(entries[i])) STATIC_NAME_INDEX.set(entries[i], names.length - 1);
  }
}
/** Entries in the static table; dynamic indices start after it. */
const STATIC_COUNT = 61;
/** RFC 7541 §4.1: an entry's size is its name's and value's lengths plus 32. */
const ENTRY_OVERHEAD = 32;
/** The largest integer a block may hold (2^31 - 1); more is a decoding error. */
const MAX_INTEGER = 0x7fffffff;
/** The default SETTINGS_HEADER_TABLE_SIZE (RFC 7540 §6.5.2). */
const DEFAULT_TABLE_SIZE = 4096;

/** Buffer's undocumented fast latin1 decoder (what `toString("latin1", start, end)` ends in). */
interface Latin1Slicer extends Buffer {
  latin1Slice(start: number, end: number): string;
}

/**
 * Where Huffman strings are decoded before they become strings; shared by all decoders (decoding
 * is synchronous) and grown on demand.
 */
let scratch = Buffer.allocUnsafeSlow(4096) as Latin1Slicer;

/** Decodes the header blocks of one HTTP/2 connection, in order, keeping that connection's dynamic table. */
export class HpackDecoder {
  /** The SETTINGS_HEADER_TABLE_SIZE advertised: the most a table size update may ask for. */
  private readonly maxTableSize: number;
  /** The dynamic table's current maximum size (RFC 7541 §4.2), set by table size updates. */
  private capacity: number;
  /** The sum of the entries' sizes (RFC 7541 §4.1). */
  private size = 0;
  // The dynamic table: a ring of names and values, `count` entries ending before `head` (the
  // newest at head - 1), `mask` = ring length - 1 (a power of two).
  private names: string[];
  private values: string[];
  private head = 0;
  private count = 0;
  private mask: number;
  /** Where the last integer or string read ended (a second result, without allocation). */
  private pos = 0;

  /** `maxTableSize`: the SETTINGS_HEADER_TABLE_SIZE this side advertised (default 4096); a dynamic table size update above it is an error. */
  constructor(maxTableSize: number = DEFAULT_TABLE_SIZE) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INTEGER) {
      throw new RangeError(`invalid HPACK table size ${maxTableSize}`);
    }
    this.maxTableSize = maxTableSize;
    this.capacity = maxTableSize;
    // Room for a table of the default size full of the smallest entries; grown when needed.
    let slots = 16;
    while (slots < Math.min(maxTableSize, DEFAULT_TABLE_SIZE) / ENTRY_OVERHEAD) slots *= 2;
    this.names = new Array<string>(slots).fill("");
    this.values = new Array<string>(slots).fill("");
    this.mask = slots - 1;
  }

  /** The dynamic table's size: the sum of its entries' sizes (name + value length + 32). For tests and diagnostics. */
  get tableSize(): number {
    return this.size;
  }

  /** The dynamic table's current maximum size (the last table size update, else the advertised size). For tests and diagnostics. */
  get tableMaxSize(): number {
    return this.capacity;
  }

  /** A copy of the dynamic table's entries as [name, value], newest (index 62) first. For tests and diagnostics. */
  tableEntries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let d = 0; d < this.count; d++) {
      const slot = (this.head - 1 - d) & this.mask;
      out.push([this.names[slot], this.values[slot]]);
    }
    return out;
  }

  /**
   * Decodes one complete header block into a flat array [name0, value0, name1, value1, ...] in
   * block order. Names and values are decoded as latin1 (one char per byte). Throws HpackError when
   * the block is malformed (bad index, truncated integer/string, bad Huffman padding or EOS in a
   * string, integer overflow beyond 2^31, table size update not at the start of the block or above
   * maxTableSize, ...), or (tooLarge) when the decoded list's size (sum of name length + value length
   * + 32 per field, RFC 7540 §6.5.2) exceeds `maxHeaderListSize`. Even when it throws tooLarge it must
   * still have applied every dynamic-table insertion of the block, so that the connection stays usable
   * (so: keep decoding the whole block, then throw).
   */
  decode(block: Uint8Array, maxHeaderListSize: number): string[] {
    const buf = (Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)) as Latin1Slicer;
    const end = buf.length;
    const out: string[] = [];
    let listSize = 0;
    let pos = 0;
    let sawField = false;
    while (pos < end) {
      const b = buf[pos];
      let name: string;
      let value: string;
      if (b >= 0x80) {
        // Indexed header field (§6.1): 1xxxxxxx.
        let index = b & 0x7f;
        pos++;
        if (index === 0x7f) {
          index = this.integerTail(buf, pos, end, index);
          pos = this.pos;
        }
        if (index === 0) throw new HpackError("indexed header field with index 0");
        if (index <= STATIC_COUNT) {
          name = STATIC_NAMES[index];
          value = STATIC_VALUES[index];
        } else {
          const d = index - STATIC_COUNT - 1;
          if (d >= this.count) throw new HpackError(`header field index ${index} is past the table (${STATIC_COUNT + this.count} entries)`);
          const slot = (this.head - 1 - d) & this.mask;
          name = this.names[slot];
          value = this.values[slot];
        }
      } else if (b >= 0x20 && b < 0x40) {
        // Dynamic table size update (§6.3): 001xxxxx, only before the first field (§4.2).
        if (sawField) throw new HpackError("dynamic table size update after a header field");
        let newSize = b & 0x1f;
        pos++;
        if (newSize === 0x1f) {
          newSize = this.integerTail(buf, pos, end, newSize);
          pos = this.pos;
        }
        if (newSize > this.maxTableSize) {
          throw new HpackError(`dynamic table size update to ${newSize}, above the maximum ${this.maxTableSize}`);
        }
        this.capacity = newSize;
        this.evictTo(newSize);
        continue;
      } else {
        // A literal (§6.2): with incremental indexing 01xxxxxx (6-bit name index), without
        // indexing 0000xxxx or never indexed 0001xxxx (4-bit name index); index 0 = literal name.
        const indexing = b >= 0x40;
        const prefixMask = indexing ? 0x3f : 0x0f;
        let index = b & prefixMask;
        pos++;
        if (index === prefixMask) {
          index = this.integerTail(buf, pos, end, index);
          pos = this.pos;
        }
        if (index === 0) {
          name = this.string(buf, pos, end);
          pos = this.pos;
        } else if (index <= STATIC_COUNT) {
          name = STATIC_NAMES[index];
        } else {
          const d = index - STATIC_COUNT - 1;
          if (d >= this.count) throw new HpackError(`header name index ${index} is past the table (${STATIC_COUNT + this.count} entries)`);
          name = this.names[(this.head - 1 - d) & this.mask];
        }
        value = this.string(buf, pos, end);
        pos = this.pos;
        if (indexing) this.insert(name, value);
      }
      sawField = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= maxHeaderListSize) out.push(name, value);
    }
    if (listSize > maxHeaderListSize) {
      throw new HpackError(`header list size ${listSize} exceeds the limit ${maxHeaderListSize}`, true);
    }
    return out;
  }

  /**
   * Reads the continuation bytes of an integer (§5.1) from `pos`, its prefix having been all ones
   * (`prefix`); sets `this.pos` after it.
   */
  private integerTail(buf: Buffer, pos: number, end: number, prefix: number): number {
    let value = prefix;
    let factor = 1;
    for (;;) {
      if (pos >= end) throw new HpackError("truncated integer");
      const b = buf[pos++];
      value += (b & 0x7f) * factor;
      if (value > MAX_INTEGER) throw new HpackError("integer overflow (more than 2^31 - 1)");
      if (b < 0x80) break;
      factor *= 128;
      // Five continuation bytes hold 35 bits; more can only be zero padding.
      if (factor > 2 ** 28) throw new HpackError("integer overflow (too many bytes)");
    }
    this.pos = pos;
    return value;
  }

  /** Reads a string literal (§5.2) from `pos`: its length (7-bit prefix, H flag) and octets; sets `this.pos` after it. */
  private string(buf: Latin1Slicer, pos: number, end: number): string {
    if (pos >= end) throw new HpackError("truncated header block: string expected");
    const b = buf[pos++];
    let length = b & 0x7f;
    if (length === 0x7f) {
      length = this.integerTail(buf, pos, end, length);
      pos = this.pos;
    }
    if (length > end - pos) throw new HpackError(`string of ${length} bytes goes past the end of the header block`);
    const stop = pos + length;
    this.pos = stop;
    if (b < 0x80) return buf.latin1Slice(pos, stop);
    const room = huffmanMaxDecodedLength(length);
    if (scratch.length < room) scratch = Buffer.allocUnsafeSlow(Math.max(room, scratch.length * 2)) as Latin1Slicer;
    const n = huffmanDecodeInto(buf, pos, stop, scratch, 0);
    if (n < 0) throw new HpackError("invalid Huffman-coded string (EOS, or bad padding)");
    return scratch.latin1Slice(0, n);
  }

  /** Adds an entry at the front of the dynamic table, evicting from the oldest to make room (§4.4). */
  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      // Too large for the table: empties it and is not added.
      this.evictTo(0);
      return;
    }
    this.evictTo(this.capacity - entrySize);
    if (this.count === this.mask + 1) this.grow();
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.head = (this.head + 1) & this.mask;
    this.count++;
    this.size += entrySize;
  }

  /** Evicts the oldest entries until the table's size is at most `limit`. */
  private evictTo(limit: number): void {
    while (this.size > limit) {
      const slot = (this.head - this.count) & this.mask;
      this.size -= this.names[slot].length + this.values[slot].length + ENTRY_OVERHEAD;
      this.names[slot] = "";
      this.values[slot] = "";
      this.count--;
    }
  }

  /** Doubles the ring, keeping the entries in order (oldest at slot 0). */
  private grow(): void {
    const slots = (this.mask + 1) * 2;
    const names = new Array<string>(slots).fill("");
    const values = new Array<string>(slots).fill("");
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head - this.count + i) & this.mask;
      names[i] = this.names[slot];
      values[i] = this.values[slot];
    }
    this.names = names;
    this.values = values;
    this.head = this.count;
    this.mask = slots - 1;
  }
}

/** Room for a string's representation beyond its octets: a literal-name marker and its length (at most 6 bytes for 2^31 - 1), with slack. */
const STRING_OVERHEAD_BYTES = 8;

/** Encodes header fields as "literal without indexing" representations (RFC 7541 §6.2.2), using the static table's index for the name when the name is in it, never touching the peer decoder's dynamic table; values Huffman-coded only when that is shorter. `fields` is a flat [name, value, ...] array of latin1 strings (names lower-case). */
export function encodeHeaders(fields: readonly string[]): Buffer {
  const out = blockBuffer(fields);
  let o = 0;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const index = STATIC_NAME_INDEX.get(name);
    if (index === undefined) {
      out[o++] = 0x00;
      o = writeString(out, o, name);
    } else {
      o = writeInteger(out, o, 0x00, 4, index);
    }
    o = writeString(out, o, fields[i + 1]);
  }
  return out.subarray(0, o);
}

/** A buffer with room for any encoding of `fields` (flat: name, value...); throws when they are not pairs. */
function blockBuffer(fields: readonly string[]): Buffer {
  if (fields.length % 2 !== 0) throw new RangeError("HPACK: header fields must be [name, value, ...] pairs");
  let room = 0;
  for (let i = 0; i < fields.length; i++) room += STRING_OVERHEAD_BYTES + fields[i].length;
  return Buffer.allocUnsafe(room);
}

/** Writes `value` as an integer with an N-bit prefix (§5.1) after the high bits `first`; returns the offset after it. */
function writeInteger(out: Buffer, o: number, first: number, prefixBits: number, value: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[o++] = first | value;
    return o;
  }
  out[o++] = first | max;
  value -= max;
  while (value >= 0x80) {
    out[o++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[o++] = value;
  return o;
}

/** Writes a string literal (§5.2), Huffman-coded when that is shorter; returns the offset after it. */
function writeString(out: Buffer, o: number, text: string): number {
  const huffmanLength = huffmanEncodedLengthLatin1(text);
  if (huffmanLength < 0) throw new RangeError("encodeHeaders: header strings must be latin1 (chars up to U+00FF)");
  if (huffmanLength < text.length) {
    o = writeInteger(out, o, 0x80, 7, huffmanLength);
    return huffmanEncodeLatin1Into(text, out, o);
  }
  o = writeInteger(out, o, 0x00, 7, text.length);
  return o + out.write(text, o, "latin1");
}

/** Static-table entries by name and value ("name\0value"), for the encoder's indexed fields. */
const STATIC_FIELD_INDEX = new Map<string, number>();
for (let i = 1; i <= STATIC_COUNT; i++) if (!STATIC_FIELD_INDEX.has(`${STATIC_NAMES[i]}\0${STATIC_VALUES[i]}`)) STATIC_FIELD_INDEX.set(`${STATIC_NAMES[i]}\0${STATIC_VALUES[i]}`, i);

/**
 * Encodes the header blocks of one HTTP/2 connection as clients usually do (nghttp2's way, which
 * Node's and so grpc-js's clients use): a field in the static table or in this encoder's dynamic
 * table is sent as its index; any other as a literal with incremental indexing, which adds it to
 * both sides' tables; but fields named in `neverIndexed` (nghttp2 does not index `:path`) as
 * literals without indexing. The dynamic table keeps the default 4096 bytes, evicting the oldest
 * entries as the peer's decoder does.
 */
export class HpackEncoder {
  /** Entries of the dynamic table, oldest first, with the count of insertions when each went in. */
  private readonly entries: { key: string; size: number; inserted: number }[] = [];
  /** "name\0value" → the insertion count of its newest entry in the table. */
  private readonly byField = new Map<string, number>();
  private inserted = 0;
  private size = 0;

  /** An encoder that never indexes the fields named in `neverIndexed`. */
  constructor(private readonly neverIndexed: ReadonlySet<string> = new Set([":path"])) {}

  /** Encodes `fields` (flat: name, value...; latin1, names lower-case) as one header block. */
  encode(fields: readonly string[]): Buffer {
    const out = blockBuffer(fields);
    let o = 0;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      const key = `${name}\0${value}`;
      const staticIndex = STATIC_FIELD_INDEX.get(key);
      if (staticIndex !== undefined) {
        o = writeInteger(out, o, 0x80, 7, staticIndex);
        continue;
      }
      const inserted = this.byField.get(key);
      if (inserted !== undefined) {
        o = writeInteger(out, o, 0x80, 7, STATIC_COUNT + this.inserted - inserted + 1);
        continue;
      }
      const indexing = !this.neverIndexed.has(name);
      // Literal with incremental indexing (01, 6-bit name index) or without indexing (0000, 4 bits).
      const nameIndex = STATIC_NAME_INDEX.get(name);
      if (nameIndex === undefined) {
        out[o++] = indexing ? 0x40 : 0x00;
        o = writeString(out, o, name);
      } else {
        o = indexing ? writeInteger(out, o, 0x40, 6, nameIndex) : writeInteger(out, o, 0x00, 4, nameIndex);
      }
      o = writeString(out, o, value);
      if (indexing) this.insert(key, name.length + value.length + ENTRY_OVERHEAD);
    }
    return out.subarray(0, o);
  }

  /** Adds a field to the dynamic table, evicting the oldest entries to make room (RFC 7541 §4.4). */
  private insert(key: string, size: number): void {
    this.inserted++;
    while (this.entries.length > 0 && this.size + size > DEFAULT_TABLE_SIZE) {
      const oldest = this.entries.shift()!;
      this.size -= oldest.size;
      if (this.byField.get(oldest.key) === oldest.inserted) this.byField.delete(oldest.key);
    }
    if (size > DEFAULT_TABLE_SIZE) return; // too large: the table is emptied and it is not added
    this.entries.push({ key, size, inserted: this.inserted });
    this.byField.set(key, this.inserted);
    this.size += size;
  }
}
