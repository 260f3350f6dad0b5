/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B): its table as data, a table-driven decoder
 * that consumes one input byte per step (a 256-state automaton over the code tree, as nghttp2
 * does with nibbles), and an encoder. Byte strings only; HPACK framing is in hpack.ts.
 */

/**
 * Appendix B of RFC 7541: the code of symbol i (0..255 for the byte values, 256 for EOS),
 * right-aligned, and its length in bits. Checked against golang.org/x/net/http2/hpack.
 */
const CODES = new Int32Array([
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
]);

const LENGTHS = new Uint8Array([
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
]);

/** The end-of-string symbol; a decoder that meets it in a string must fail (RFC 7541 §5.2). */
const EOS = 256;

// The decoder's automaton. Its states are the 256 internal nodes of the code tree (257 leaves),
// state 0 the root. TRANSITIONS[state << 8 | byte] packs what happens when `byte` is consumed
// in `state`: bits 0-7 the next state, bit 8 "failed" (EOS was decoded), bit 9 "one symbol
// emitted" and bit 10 "two symbols emitted" (a byte holds at most two: codes are 5+ bits long),
// bits 16-23 the first symbol and bits 24-31 the second. ACCEPTING[state] is 1 when a string
// may end in that state: the bits since the last symbol are fewer than 8 and all ones (padding,
// §5.2), which are the root and the first 7 nodes down the all-ones path.
const FAILED = 0x100;
const EMIT_ONE = 0x200;
const EMIT_TWO = 0x400;
const TRANSITIONS = new Int32Array(256 * 256);
const ACCEPTING = new Uint8Array(256);

buildDecoder();

/** Builds TRANSITIONS and ACCEPTING from the code table (once, at load; about a millisecond). */
function buildDecoder(): void {
  // The code tree: child[node * 2 + bit] is an internal node (> 0), a leaf -(symbol + 1), or
  // 0 while not yet built (the root is never anyone's child).
  const child = new Int32Array(256 * 2);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = CODES[sym];
    const len = LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const slot = node * 2 + ((code >>> i) & 1);
      if (child[slot] === 0) child[slot] = nodes++;
      node = child[slot];
    }
    child[node * 2 + (code & 1)] = -(sym + 1);
  }
  if (nodes !== 256) throw new Error(`HPACK Huffman table is not a complete code (${nodes} internal nodes)`);

  for (let state = 0; state < 256; state++) {
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let flags = 0;
      let emitted = 0;
      let symbols = 0;
      for (let bit = 7; bit >= 0; bit--) {
        const next = child[node * 2 + ((byte >>> bit) & 1)];
        if (next > 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === EOS) {
          flags = FAILED;
          break;
        }
        symbols |= sym << (emitted === 0 ? 16 : 24);
        emitted++;
        node = 0;
      }
      if (flags === 0 && emitted > 0) flags = emitted === 1 ? EMIT_ONE : EMIT_ONE | EMIT_TWO;
      TRANSITIONS[(state << 8) | byte] = symbols | flags | (flags === FAILED ? 0 : node);
    }
  }

  let node = 0;
  ACCEPTING[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = child[node * 2 + 1];
    ACCEPTING[node] = 1;
  }
}

/** The most bytes that `length` bytes of Huffman code can decode to (the shortest code is 5 bits). */
export function huffmanMaxDecodedLength(length: number): number {
  return Math.floor((length * 8) / 5);
}

/**
 * Decodes the Huffman-coded bytes `src[start..end)` into `out` from `outOffset`, which must have
 * room for `huffmanMaxDecodedLength(end - start)` bytes. Returns the number of bytes written, or
 * -1 when the code is invalid: it contains EOS, or its padding is longer than 7 bits or not all
 * ones (RFC 7541 §5.2).
 */
export function huffmanDecodeInto(src: Uint8Array, start: number, end: number, out: Uint8Array, outOffset: number): number {
  let state = 0;
  let o = outOffset;
  for (let i = start; i < end; i++) {
    const t = TRANSITIONS[(state << 8) | src[i]];
    if ((t & (FAILED | EMIT_ONE)) !== 0) {
      if ((t & FAILED) !== 0) return -1;
      out[o++] = (t >>> 16) & 0xff;
      if ((t & EMIT_TWO) !== 0) out[o++] = t >>> 24;
    }
    state = t & 0xff;
  }
  return ACCEPTING[state] === 1 ? o - outOffset : -1;
}

/** Decodes a whole Huffman-coded byte string; throws a RangeError when the code is invalid. */
export function huffmanDecode(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(huffmanMaxDecodedLength(bytes.length));
  const n = huffmanDecodeInto(bytes, 0, bytes.length, out, 0);
  if (n < 0) throw new RangeError("invalid HPACK Huffman code");
  return out.subarray(0, n);
}

/** The length in bytes of the Huffman code of `bytes` (padding included). */
export function huffmanEncodedLength(bytes: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) bits += LENGTHS[bytes[i]];
  return (bits + 7) >>> 3;
}

/**
 * The length in bytes of the Huffman code of the latin1 string `text` (one byte per char), or -1
 * when `text` has a char above U+00FF.
 */
export function huffmanEncodedLengthLatin1(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return -1;
    bits += LENGTHS[c];
  }
  return (bits + 7) >>> 3;
}

/** Huffman-codes `bytes`, padded with ones to a whole byte (RFC 7541 §5.2). */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(huffmanEncodedLength(bytes));
  huffmanEncodeLatin1Into(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1"), out, 0);
  return out;
}

/**
 * Writes the Huffman code of the latin1 string `text` (chars up to U+00FF, one byte each) into
 * `out` from `offset`, which must have room for `huffmanEncodedLengthLatin1(text)` bytes; returns
 * the offset after it.
 */
export function huffmanEncodeLatin1Into(text: string, out: Uint8Array, offset: number): number {
  let o = offset;
  let acc = 0; // the pending bits, fewer than 8 between symbols
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) & 0xff;
    let code = CODES[c];
    let len = LENGTHS[c];
    if (len > 24) {
      // Keep acc within 31 bits: put the top of a long code through first.
      acc = (acc << (len - 8)) | (code >>> 8);
      bits += len - 8;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = acc >>> bits;
      }
      acc &= (1 << bits) - 1;
      code &= 0xff;
      len = 8;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      out[o++] = acc >>> bits;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[o++] = (acc << (8 - bits)) | (0xff >>> bits);
  return o;
}
