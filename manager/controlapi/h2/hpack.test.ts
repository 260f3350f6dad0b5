/**
 * Tests of the HPACK codec (hpack.ts, huffman.ts): the examples of RFC 7541 Appendix C, the
 * Huffman code, malformed blocks, a model of the dynamic table, and interoperability with Node's
 * own HPACK (nghttp2) both ways over a raw TCP socket speaking just enough HTTP/2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import { once } from "node:events";
import fc from "fast-check";
import { HpackDecoder, HpackEncoder, HpackError, encodeHeaders } from "./hpack.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./huffman.ts";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const latin1 = (text: string): Buffer => Buffer.from(text, "latin1");
const flat = (pairs: ReadonlyArray<readonly [string, string]>): string[] => pairs.flatMap(([n, v]) => [n, v]);
const NO_LIMIT = 1 << 30;

/** Asserts that decoding `block` throws an HpackError that is not `tooLarge`. */
function assertMalformed(block: number[] | Buffer, decoder = new HpackDecoder(), what = ""): void {
  assert.throws(
    () => decoder.decode(Buffer.from(block), NO_LIMIT),
    (err: unknown) => {
      assert.ok(err instanceof HpackError, `${what}: ${String(err)}`);
      assert.equal(err.tooLarge, false, what);
      return true;
    },
    what,
  );
}

// ---------------------------------------------------------------------------------------------
// RFC 7541 Appendix C (hex from the RFC, as in golang.org/x/net/http2/hpack's tests).

interface Step {
  block: string;
  fields: Array<[string, string]>;
  /** The dynamic table after the block, newest first. */
  table: Array<[string, string]>;
  size: number;
}

function runSeries(maxTableSize: number, steps: Step[]): void {
  const decoder = new HpackDecoder(maxTableSize);
  steps.forEach((step, i) => {
    assert.deepEqual(decoder.decode(hex(step.block), NO_LIMIT), flat(step.fields), `block ${i + 1}`);
    assert.deepEqual(decoder.tableEntries(), step.table, `table after block ${i + 1}`);
    assert.equal(decoder.tableSize, step.size, `table size after block ${i + 1}`);
  });
}

test("C.1: integers with a 5-bit prefix (10 and 1337), as dynamic table size updates", () => {
  const decoder = new HpackDecoder(4096);
  assert.deepEqual(decoder.decode(Buffer.from([0x20 | 10]), NO_LIMIT), []);
  assert.equal(decoder.tableMaxSize, 10);
  assert.deepEqual(decoder.decode(Buffer.from([0x20 | 0x1f, 0x9a, 0x0a]), NO_LIMIT), []);
  assert.equal(decoder.tableMaxSize, 1337);
});

test("C.2.1-C.2.4: one field of each representation on a fresh decoder", () => {
  const cases: Array<[string, Step]> = [
    ["C.2.1 literal with indexing", {
      block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
      fields: [["custom-key", "custom-header"]], table: [["custom-key", "custom-header"]], size: 55,
    }],
    ["C.2.2 literal without indexing", {
      block: "040c 2f73 616d 706c 652f 7061 7468", fields: [[":path", "/sample/path"]], table: [], size: 0,
    }],
    ["C.2.3 literal never indexed", {
      block: "1008 7061 7373 776f 7264 0673 6563 7265 74", fields: [["password", "secret"]], table: [], size: 0,
    }],
    ["C.2.4 indexed", { block: "82", fields: [[":method", "GET"]], table: [], size: 0 }],
  ];
  for (const [name, step] of cases) {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex(step.block), NO_LIMIT), flat(step.fields), name);
    assert.deepEqual(decoder.tableEntries(), step.table, name);
    assert.equal(decoder.tableSize, step.size, name);
  }
});

const requestFields1: Array<[string, string]> = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]];
const requestFields2: Array<[string, string]> = [...requestFields1, ["cache-control", "no-cache"]];
const requestFields3: Array<[string, string]> = [
  [":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"],
];
const requestTables: Array<Array<[string, string]>> = [
  [[":authority", "www.example.com"]],
  [["cache-control", "no-cache"], [":authority", "www.example.com"]],
  [["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", "www.example.com"]],
];

test("C.3: three requests without Huffman coding on one decoder", () => {
  runSeries(4096, [
    { block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", fields: requestFields1, table: requestTables[0], size: 57 },
    { block: "8286 84be 5808 6e6f 2d63 6163 6865", fields: requestFields2, table: requestTables[1], size: 110 },
    { block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", fields: requestFields3, table: requestTables[2], size: 164 },
  ]);
});

test("C.4: three requests with Huffman coding on one decoder", () => {
  runSeries(4096, [
    { block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", fields: requestFields1, table: requestTables[0], size: 57 },
    { block: "8286 84be 5886 a8eb 1064 9cbf", fields: requestFields2, table: requestTables[1], size: 110 },
    { block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", fields: requestFields3, table: requestTables[2], size: 164 },
  ]);
});

const date21 = "Mon, 21 Oct 2013 20:13:21 GMT";
const date22 = "Mon, 21 Oct 2013 20:13:22 GMT";
const location = "https://www.example.com";
const cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const responseFields: Array<Array<[string, string]>> = [
  [[":status", "302"], ["cache-control", "private"], ["date", date21], ["location", location]],
  [[":status", "307"], ["cache-control", "private"], ["date", date21], ["location", location]],
  [[":status", "200"], ["cache-control", "private"], ["date", date22], ["location", location], ["content-encoding", "gzip"], ["set-cookie", cookie]],
];
const responseTables: Array<Array<[string, string]>> = [
  [["location", location], ["date", date21], ["cache-control", "private"], [":status", "302"]],
  [[":status", "307"], ["location", location], ["date", date21], ["cache-control", "private"]],
  [["set-cookie", cookie], ["content-encoding", "gzip"], ["date", date22]],
];

test("C.5: three responses without Huffman coding, 256-byte table with evictions", () => {
  runSeries(256, [
    {
      block: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
              2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
      fields: responseFields[0], table: responseTables[0], size: 222,
    },
    { block: "4803 3330 37c1 c0bf", fields: responseFields[1], table: responseTables[1], size: 222 },
    {
      block: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
              54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
              5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
      fields: responseFields[2], table: responseTables[2], size: 215,
    },
  ]);
});

test("C.6: three responses with Huffman coding, 256-byte table with evictions", () => {
  runSeries(256, [
    {
      block: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
              2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
      fields: responseFields[0], table: responseTables[0], size: 222,
    },
    { block: "4883 640e ffc1 c0bf", fields: responseFields[1], table: responseTables[1], size: 222 },
    {
      block: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
              77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
              9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      fields: responseFields[2], table: responseTables[2], size: 215,
    },
  ]);
});

// ---------------------------------------------------------------------------------------------
// The Huffman code.

test("Huffman: the strings of Appendix C encode to the RFC's bytes and decode back", () => {
  const known: Array<[string, string]> = [
    ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
    ["no-cache", "a8eb 1064 9cbf"],
    ["custom-key", "25a8 49e9 5ba9 7d7f"],
    ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
    ["302", "6402"],
    ["307", "640e ff"],
    ["private", "aec3 771a 4b"],
    [date21, "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
    [location, "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
    ["gzip", "9bd9 ab"],
    [cookie, "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"],
    ["", ""],
  ];
  for (const [text, code] of known) {
    assert.equal(huffmanEncode(latin1(text)).toString("hex"), code.replace(/ /g, ""), text);
    assert.equal(huffmanEncodedLength(latin1(text)), hex(code).length, text);
    assert.equal(huffmanDecode(hex(code)).toString("latin1"), text, text);
  }
});

test("Huffman: every byte value (codes of 5 to 30 bits) and random byte strings round-trip", () => {
  for (let b = 0; b < 256; b++) {
    for (const input of [Buffer.from([b]), Buffer.alloc(7, b), Buffer.from([b, 0x30, b, 0xff, b])]) {
      const code = huffmanEncode(input);
      assert.equal(code.length, huffmanEncodedLength(input));
      assert.deepEqual(huffmanDecode(code), input, `byte ${b}`);
    }
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const code = huffmanEncode(bytes);
      assert.equal(code.length, huffmanEncodedLength(bytes));
      assert.deepEqual(huffmanDecode(code), Buffer.from(bytes));
    }),
    { numRuns: 2000 },
  );
});

test("Huffman: padding longer than 7 bits, padding with zeros, and EOS are rejected", () => {
  const invalid: Array<[string, number[]]> = [
    ["8 bits of padding", [0xff]],
    ["'a' and 11 bits of padding", [0x1f, 0xff]],
    ["'a' and 19 bits of padding", [0x1f, 0xff, 0xff]],
    ["'a' and 29 bits of padding", [0xff, 0x9f, 0xff, 0xff, 0xff]],
    ["padding ending in a partial symbol", [0x52, 0xbc, 0x30, 0xff, 0xff, 0xff, 0xff]],
    ["'0' with zero padding", [0x00]],
    ["'a' with zero padding", [0x18]],
    ["EOS then '?'", [0xff, 0xff, 0xff, 0xff, 0xfc]],
    ["EOS then padding", [0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [what, bytes] of invalid) assert.throws(() => huffmanDecode(Buffer.from(bytes)), RangeError, what);
  // The same inside a header block.
  for (const [what, bytes] of invalid) assertMalformed([0x04, 0x80 | bytes.length, ...bytes], new HpackDecoder(), what);
});

// ---------------------------------------------------------------------------------------------
// Malformed blocks and limits.

test("malformed blocks throw HpackError (COMPRESSION_ERROR)", () => {
  const cases: Array<[string, number[]]> = [
    ["indexed field with index 0", [0x80]],
    ["index 62 into an empty dynamic table", [0xbe]],
    ["index far past the table", [0xff, 0x80, 0x01]],
    ["literal name index past the table", [0x0f, 0x2f, 0x01, 0x61]],
    ["literal with indexing, name index past the table", [0x7e, 0x01, 0x61]],
    ["truncated integer (no continuation byte)", [0xff]],
    ["truncated integer (continuation bit set on the last byte)", [0xff, 0x80]],
    ["integer above 2^31 - 1", [0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ["integer of too many bytes", [0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ["string length above 2^31 - 1", [0x04, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f]],
    ["literal without a name", [0x00]],
    ["literal with indexing without a value", [0x44]],
    ["name string past the block", [0x00, 0x05, 0x61]],
    ["value string past the block", [0x04, 0x05, 0x2f]],
    ["Huffman value string past the block", [0x04, 0x83, 0x1f]],
    ["table size update above the maximum (4097)", [0x3f, 0xe2, 0x1f]],
    ["table size update after a field", [0x82, 0x20]],
    ["table size update after a literal", [0x04, 0x01, 0x2f, 0x3f, 0xe1, 0x1f]],
  ];
  for (const [what, bytes] of cases) assertMalformed(bytes, new HpackDecoder(4096), what);
  // A size update above a smaller advertised size.
  assertMalformed([0x3f, 0xe2, 0x01], new HpackDecoder(256), "size update 257 > 256");
  // Size updates at the start (two of them, RFC 7541 §4.2) are fine.
  const decoder = new HpackDecoder(4096);
  assert.deepEqual(decoder.decode(Buffer.from([0x20, 0x3f, 0xe1, 0x1f, 0x82]), NO_LIMIT), [":method", "GET"]);
  assert.equal(decoder.tableMaxSize, 4096);
});

test("integers: up to 2^31 - 1 decode (a table size update of 2^31 - 1), beyond is an overflow", () => {
  const max = 2 ** 31 - 1;
  const decoder = new HpackDecoder(max);
  // 2^31 - 1 = 31 + 0x7fffffe0: five continuation bytes.
  assert.deepEqual(integer(0x20, 5, max), [0x3f, 0xe0, 0xff, 0xff, 0xff, 0x07]);
  assert.deepEqual(decoder.decode(Buffer.from(integer(0x20, 5, max)), NO_LIMIT), []);
  assert.equal(decoder.tableMaxSize, max);
  for (const bytes of [integer(0x20, 5, max + 1), [0x3f, 0xe0, 0xff, 0xff, 0xff, 0x0f], [0x3f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]]) {
    assert.throws(() => new HpackDecoder(max).decode(Buffer.from(bytes), NO_LIMIT), (err: unknown) => err instanceof HpackError && /overflow/.test(err.message));
  }
});

test("a block whose header list exceeds the limit throws tooLarge after applying all its insertions", () => {
  const decoder = new HpackDecoder();
  const big = "v".repeat(100);
  const block = Buffer.concat([
    Buffer.from([0x82]), // :method GET (42 bytes)
    Buffer.from([0x40, 5]), latin1("x-big"), Buffer.from([100]), latin1(big), // 137 bytes: over 150 in all
    Buffer.from([0x40, 7]), latin1("x-after"), Buffer.from([3]), latin1("yes"), // inserted after the limit was crossed
  ]);
  assert.throws(() => decoder.decode(block, 150), (err: unknown) => err instanceof HpackError && err.tooLarge);
  assert.deepEqual(decoder.tableEntries(), [["x-after", "yes"], ["x-big", big]]);
  assert.deepEqual(decoder.decode(Buffer.from([0xbe, 0xbf, 0x82]), NO_LIMIT), ["x-after", "yes", "x-big", big, ":method", "GET"]);
  // Exactly at the limit is fine; one byte less is not.
  assert.deepEqual(decoder.decode(Buffer.from([0x82]), 42), [":method", "GET"]);
  assert.throws(() => decoder.decode(Buffer.from([0x82]), 41), (err: unknown) => err instanceof HpackError && err.tooLarge);
  // Over the limit and then malformed: a plain COMPRESSION_ERROR.
  assertMalformed(Buffer.concat([block, Buffer.from([0x80])]), decoder, "too large, then index 0");
});

test("fuzz: random bytes either decode or throw HpackError, and the table stays consistent", () => {
  // Bytes biased to the interesting first bytes (representation kinds, full prefixes, Huffman flags).
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x00, 0x0f, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xbe, 0xbf, 0xc0, 0xff, 0x01, 0x03, 0x83, 0x61),
  );
  const block = fc.array(byte, { maxLength: 48 }).map((bytes) => Buffer.from(bytes));
  fc.assert(
    fc.property(fc.constantFrom(0, 64, 256, 4096), fc.array(block, { minLength: 1, maxLength: 20 }), (maxTableSize, blocks) => {
      const decoder = new HpackDecoder(maxTableSize);
      for (const b of blocks) {
        try {
          const fields = decoder.decode(b, 200);
          assert.equal(fields.length % 2, 0);
        } catch (err) {
          if (!(err instanceof HpackError)) throw err;
        }
        const entries = decoder.tableEntries();
        assert.equal(decoder.tableSize, entries.reduce((sum, [n, v]) => sum + n.length + v.length + 32, 0));
        assert.ok(decoder.tableSize <= decoder.tableMaxSize);
      }
    }),
    { numRuns: 3000 },
  );
});

// ---------------------------------------------------------------------------------------------
// The dynamic table against a model: insertions, references, evictions, size updates, growth.

/** An HPACK integer with a `prefixBits`-bit prefix after the high bits `first` (RFC 7541 §5.1). */
function integer(first: number, prefixBits: number, value: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return out;
}
const rawString = (text: string): number[] => [...integer(0, 7, text.length), ...latin1(text)];

type Op =
  | { kind: "insert"; name: string; value: string; nameFrom: number | null }
  | { kind: "ref"; pick: number }
  | { kind: "literal"; name: string; value: string; neverIndexed: boolean };

test("the dynamic table behaves as a model table (evictions, size updates, a table of many entries)", () => {
  const text = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 12 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("insert" as const), name: text, value: text, nameFrom: fc.option(fc.nat(), { nil: null }) }),
    fc.record({ kind: fc.constant("ref" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("literal" as const), name: text, value: text, neverIndexed: fc.boolean() }),
  );
  const blockArb = fc.record({ sizeUpdate: fc.option(fc.nat(), { nil: null }), ops: fc.array(op, { maxLength: 30 }) });
  fc.assert(
    fc.property(fc.constantFrom(0, 100, 256, 4096, 65536), fc.array(blockArb, { minLength: 1, maxLength: 40 }), (maxTableSize, blocks) => {
      const decoder = new HpackDecoder(maxTableSize);
      let table: Array<[string, string]> = []; // newest first
      let capacity = maxTableSize;
      const sizeOf = (t: Array<[string, string]>): number => t.reduce((s, [n, v]) => s + n.length + v.length + 32, 0);
      const evictTo = (limit: number): void => {
        while (sizeOf(table) > limit) table.pop();
      };
      for (const block of blocks) {
        const bytes: number[] = [];
        const expected: string[] = [];
        if (block.sizeUpdate !== null) {
          capacity = block.sizeUpdate % (maxTableSize + 1);
          bytes.push(...integer(0x20, 5, capacity));
          evictTo(capacity);
        }
        for (const o of block.ops) {
          if (o.kind === "ref") {
            if (table.length > 0) {
              const k = o.pick % table.length;
              bytes.push(...integer(0x80, 7, 62 + k));
              expected.push(...table[k]);
            } else {
              bytes.push(...integer(0x80, 7, 2));
              expected.push(":method", "GET");
            }
          } else if (o.kind === "insert") {
            let name = o.name;
            if (o.nameFrom !== null && table.length > 0) {
              const k = o.nameFrom % table.length;
              name = table[k][0];
              bytes.push(...integer(0x40, 6, 62 + k));
            } else {
              bytes.push(0x40, ...rawString(name));
            }
            bytes.push(...rawString(o.value));
            expected.push(name, o.value);
            const entrySize = name.length + o.value.length + 32;
            if (entrySize > capacity) {
              table = [];
            } else {
              evictTo(capacity - entrySize);
              table.unshift([name, o.value]);
            }
          } else {
            bytes.push(o.neverIndexed ? 0x10 : 0x00, ...rawString(o.name), ...rawString(o.value));
            expected.push(o.name, o.value);
          }
        }
        assert.deepEqual(decoder.decode(Buffer.from(bytes), NO_LIMIT), expected);
        assert.deepEqual(decoder.tableEntries(), table);
        assert.equal(decoder.tableSize, sizeOf(table));
        assert.equal(decoder.tableMaxSize, capacity);
      }
    }),
    { numRuns: 300 },
  );
});

test("a large table of many small entries: 3000 insertions, then every index resolves to its entry", () => {
  const decoder = new HpackDecoder(65536);
  const entries: Array<[string, string]> = []; // newest first
  for (let i = 0; i < 3000; i++) {
    const name = `n${i % 7}`;
    const value = String(i);
    decoder.decode(Buffer.from([0x40, ...rawString(name), ...rawString(value)]), NO_LIMIT);
    entries.unshift([name, value]);
    let size = entries.reduce((s, [n, v]) => s + n.length + v.length + 32, 0);
    while (size > 65536) {
      const [n, v] = entries.pop() as [string, string];
      size -= n.length + v.length + 32;
    }
    if (i % 500 === 499 || i === 100) {
      const block = entries.flatMap((_, k) => integer(0x80, 7, 62 + k));
      assert.deepEqual(decoder.decode(Buffer.from(block), NO_LIMIT), flat(entries), `after ${i + 1} insertions`);
      assert.equal(decoder.tableSize, size);
    }
  }
  assert.ok(entries.length > 1000 && entries.length < 3000, `${entries.length} entries`);
  // Shrinking to 100 keeps the newest entries that fit.
  decoder.decode(Buffer.from(integer(0x20, 5, 100)), NO_LIMIT);
  assert.deepEqual(decoder.tableEntries(), entries.slice(0, 2));
  assertMalformed([0xc0], decoder, "index 64 after the shrink");
});

test("the decoder accepts a Uint8Array that is not a Buffer, at an offset in its ArrayBuffer", () => {
  const backing = new Uint8Array(64);
  const block = hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff");
  backing.set(block, 10);
  const view = new Uint8Array(backing.buffer, 10, block.length);
  assert.deepEqual(new HpackDecoder().decode(view, NO_LIMIT), flat(requestFields1));
});

// ---------------------------------------------------------------------------------------------
// The encoder.

const latin1Char = fc
  .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }))
  .map((c) => String.fromCharCode(c));
const headerValue = fc.string({ unit: latin1Char, maxLength: 60 });
const customName = fc.stringMatching(/^x-[a-z0-9-]{1,20}$/);

test("encodeHeaders: a fresh decoder gives back the fields, and the peer's table is never touched", () => {
  const staticName = fc.constantFrom(":status", ":path", "content-type", "www-authenticate", "accept-encoding", ":authority");
  const anyText = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 200 });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.oneof(staticName, customName, anyText), fc.oneof(headerValue, anyText)), { maxLength: 20 }), (pairs) => {
      const fields = flat(pairs);
      const decoder = new HpackDecoder();
      assert.deepEqual(decoder.decode(encodeHeaders(fields), NO_LIMIT), fields);
      assert.equal(decoder.tableSize, 0);
    }),
    { numRuns: 1000 },
  );
});

test("HpackEncoder: a decoder of the same connection gives back every block, its table in step, through evictions", () => {
  const name = fc.constantFrom(":method", ":path", ":authority", "content-type", "user-agent", "x-a", "x-b", "grpc-timeout");
  const value = fc.oneof(fc.constantFrom("POST", "application/grpc", "30000m", ""), fc.string({ maxLength: 300 }).map((v) => v.replace(/[^\x20-\x7e]/g, "y")));
  const block = fc.array(fc.tuple(name, value), { maxLength: 10 }).map((pairs) => pairs.flat());
  fc.assert(fc.property(fc.array(block, { minLength: 1, maxLength: 40 }), (blocks) => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (const fields of blocks) assert.deepEqual(decoder.decode(encoder.encode(fields), 1 << 20), fields);
    assert.ok(decoder.tableSize <= 4096);
  }), { numRuns: 300 });
});

test("HpackEncoder: a field evicted from the table is sent as a literal again", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const roundTrip = (fields: string[]): void => assert.deepEqual(decoder.decode(encoder.encode(fields), 1 << 20), fields);
  roundTrip(["x-first", "1"]);
  for (let i = 0; i < 20; i++) roundTrip([`x-filler-${i}`, "v".repeat(300)]); // 20 × 340 bytes: x-first is evicted
  assert.ok(!decoder.tableEntries().some(([n]) => n === "x-first"));
  roundTrip(["x-first", "1"]);
  assert.deepEqual(decoder.tableEntries()[0], ["x-first", "1"]);
});

test("HpackEncoder: a request repeated is one byte per field, but :path, which is never indexed", () => {
  const encoder = new HpackEncoder();
  const request = [":method", "POST", ":scheme", "https", ":path", "/shoal.control.Control/CreateConfig", "content-type", "application/grpc", "te", "trailers", "grpc-timeout", "30000m"];
  const first = encoder.encode(request);
  const second = encoder.encode(request);
  assert.ok(second.length < first.length);
  const pathLiteral = encodeHeaders([":path", "/shoal.control.Control/CreateConfig"]).length;
  assert.equal(second.length, request.length / 2 - 1 + pathLiteral);
  const decoder = new HpackDecoder();
  assert.deepEqual(decoder.decode(first, 1 << 16), request);
  assert.deepEqual(decoder.decode(second, 1 << 16), request);
  assert.ok(!decoder.tableEntries().some(([n]) => n === ":path"), ":path is not in the table");
});

test("encodeHeaders: static name index, literal name, Huffman only when shorter, long lengths", () => {
  // :path is static index 4: 0000 0100, then "/sample/path" Huffman-coded (shorter).
  const path = huffmanEncode(latin1("/sample/path"));
  assert.ok(path.length < 12);
  assert.deepEqual(encodeHeaders([":path", "/sample/path"]), Buffer.from([0x04, 0x80 | path.length, ...path]));
  // www-authenticate is index 61 (15 + 46 in a 4-bit prefix); "\xff\xfe" is longer in Huffman.
  assert.deepEqual(encodeHeaders(["www-authenticate", "\xff\xfe"]), Buffer.from([0x0f, 46, 0x02, 0xff, 0xfe]));
  // A name not in the table: 0x00, then the name as a string.
  const name = huffmanEncode(latin1("x-test"));
  assert.deepEqual(encodeHeaders(["x-test", ""]), Buffer.from([0x00, 0x80 | name.length, ...name, 0x00]));
  // A value of 1000 bytes: a length beyond the 7-bit prefix.
  const long = "\x01".repeat(1000);
  const decoded = new HpackDecoder().decode(encodeHeaders(["content-type", long]), NO_LIMIT);
  assert.deepEqual(decoded, ["content-type", long]);
  assert.deepEqual(encodeHeaders([]), Buffer.alloc(0));
  assert.throws(() => encodeHeaders(["x-odd"]), RangeError);
  assert.throws(() => encodeHeaders(["x-a", "\u0100"]), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Interoperability with Node's HTTP/2 (nghttp2) over a raw socket.

const PREFACE = latin1("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

interface RawServer {
  port: number;
  /** CONTINUATION frames received so far. */
  continuations: number;
  close(): Promise<void>;
}

/**
 * A TCP server speaking just enough HTTP/2 to a client: it sends its SETTINGS (`settings`), ACKs
 * the client's, and hands over each complete header block (HEADERS + CONTINUATIONs, padding and
 * priority removed) with its stream id, in order. `onBlock` may answer through the socket.
 */
async function rawServer(settings: Buffer, onBlock: (socket: net.Socket, streamId: number, block: Buffer) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  let continuations = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.write(frame(SETTINGS, 0, 0, settings));
    let input = Buffer.alloc(0);
    let prefaceSeen = false;
    let fragments: Buffer[] | null = null;
    let blockStream = 0;
    socket.on("data", (chunk: Buffer) => {
      input = Buffer.concat([input, chunk]);
      if (!prefaceSeen) {
        if (input.length < PREFACE.length) return;
        assert.deepEqual(input.subarray(0, PREFACE.length), PREFACE);
        input = input.subarray(PREFACE.length);
        prefaceSeen = true;
      }
      while (input.length >= 9) {
        const length = input.readUIntBE(0, 3);
        if (input.length < 9 + length) break;
        const type = input[3];
        const flags = input[4];
        const streamId = input.readUInt32BE(5) & 0x7fffffff;
        const payload = input.subarray(9, 9 + length);
        input = input.subarray(9 + length);
        if (type === SETTINGS && (flags & ACK) === 0) {
          socket.write(frame(SETTINGS, ACK, 0));
        } else if (type === HEADERS) {
          let start = 0;
          let padding = 0;
          if (flags & PADDED) {
            padding = payload[0];
            start = 1;
          }
          if (flags & PRIORITY) start += 5;
          fragments = [Buffer.from(payload.subarray(start, payload.length - padding))];
          blockStream = streamId;
        } else if (type === CONTINUATION) {
          assert.ok(fragments !== null && streamId === blockStream, "CONTINUATION without HEADERS");
          fragments.push(Buffer.from(payload));
          continuations++;
        } else {
          continue;
        }
        if (fragments !== null && (flags & END_HEADERS) !== 0) {
          const block = Buffer.concat(fragments);
          fragments = null;
          onBlock(socket, blockStream, block);
        }
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get continuations() {
      return continuations;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects a Node HTTP/2 client and waits for the server's SETTINGS (so it encodes with the advertised table size). */
async function connectClient(port: number): Promise<http2.ClientHttp2Session> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on("error", () => {}); // surfaced by the requests instead
  await once(client, "remoteSettings");
  return client;
}

/** Sends one request and waits for it to end (answered by the raw server, or cut off by it). */
function roundTrip(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<http2.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { endStream: true });
    let response: http2.IncomingHttpHeaders | null = null;
    req.on("response", (h: http2.IncomingHttpHeaders) => (response = h));
    req.on("error", reject);
    req.on("close", () => (response ? resolve(response) : reject(new Error(`stream closed without a response (code ${req.rstCode})`))));
    req.resume();
  });
}

interface Request {
  method: "GET" | "POST";
  path: string;
  fields: Array<[string, string]>;
  sensitive: boolean;
}

test("Node's HPACK encoder (nghttp2) → HpackDecoder: random requests on one connection, dynamic table reused and evicted", { timeout: 60_000 }, async () => {
  const pair = fc.tuple(customName, headerValue);
  const scenario = fc
    .record({
      tableSize: fc.constantFrom(4096, 256),
      pool: fc.array(pair, { minLength: 5, maxLength: 30 }),
      requests: fc.array(
        fc.record({
          method: fc.constantFrom("GET" as const, "POST" as const),
          path: fc.oneof(fc.constantFrom("/", "/shoal.Control/GetNode", "/shoal.Control/ListTasks"), fc.stringMatching(/^\/[a-zA-Z0-9._~/-]{0,40}$/)),
          picks: fc.array(fc.nat(), { maxLength: 6 }),
          fresh: fc.array(pair, { maxLength: 3 }),
          sensitive: fc.boolean(),
        }),
        { minLength: 100, maxLength: 150 },
      ),
    })
    .map(({ tableSize, pool, requests }) => ({
      tableSize,
      requests: requests.map(({ method, path, picks, fresh, sensitive }): Request => {
        const fields: Array<[string, string]> = [];
        for (const [name, value] of [...picks.map((k) => pool[k % pool.length]), ...fresh]) {
          if (!fields.some(([n]) => n === name)) fields.push([name, value]);
        }
        return { method, path, fields, sensitive };
      }),
    }));

  await fc.assert(
    fc.asyncProperty(scenario, async ({ tableSize, requests }) => {
      // One large request too: its block goes over a 16 KiB frame, into CONTINUATION frames.
      requests.splice(requests.length >> 1, 0, { method: "POST", path: "/big", fields: [["x-big", "z".repeat(30_000)], ["x-after", "a"]], sensitive: false });
      const decoder = new HpackDecoder(tableSize);
      const blocks: string[][] = [];
      let failure: unknown = null;
      const settings = Buffer.alloc(tableSize === 4096 ? 0 : 6);
      if (tableSize !== 4096) {
        settings.writeUInt16BE(0x1, 0); // SETTINGS_HEADER_TABLE_SIZE
        settings.writeUInt32BE(tableSize, 2);
      }
      const server = await rawServer(settings, (socket, streamId, block) => {
        try {
          blocks.push(decoder.decode(block, NO_LIMIT));
          socket.write(frame(HEADERS, END_HEADERS | END_STREAM, streamId, Buffer.from([0x88]))); // :status 200
        } catch (err) {
          failure ??= err;
          socket.destroy();
        }
      });
      let client: http2.ClientHttp2Session | null = null;
      try {
        client = await connectClient(server.port);
        for (const [i, request] of requests.entries()) {
          const headers: http2.OutgoingHttpHeaders = { ":method": request.method, ":path": request.path };
          for (const [name, value] of request.fields) headers[name] = value;
          if (request.sensitive && request.fields.length > 0) Object.assign(headers, { [http2.sensitiveHeaders]: [request.fields[0][0]] });
          const response = await roundTrip(client, headers);
          assert.equal(failure, null);
          assert.equal(response[":status"], 200);
          const got = blocks[i];
          assert.ok(got, `no header block for request ${i}`);
          const pseudo = new Map<string, string>();
          for (let k = 0; k < 8; k += 2) pseudo.set(got[k], got[k + 1]);
          assert.deepEqual(pseudo, new Map([[":method", request.method], [":path", request.path], [":scheme", "http"], [":authority", `127.0.0.1:${server.port}`]]));
          assert.deepEqual(got.slice(8), flat(request.fields), `request ${i}`);
        }
        assert.equal(blocks.length, requests.length);
        assert.ok(server.continuations > 0, "no CONTINUATION frame was exercised");
        assert.ok(decoder.tableSize > 0 && decoder.tableSize <= tableSize);
      } catch (err) {
        throw failure ?? err; // the decoder's error first: it cut the connection
      } finally {
        client?.destroy();
        await server.close();
      }
    }),
    { numRuns: 4, endOnFailure: true },
  );
});

test("encodeHeaders → Node's HPACK decoder (nghttp2): a raw server's responses reach the client's 'response' event", { timeout: 30_000 }, async () => {
  let nextValue = "";
  const server = await rawServer(Buffer.alloc(0), (socket, streamId) => {
    const block = encodeHeaders([":status", "200", "content-type", "application/grpc", "x-test", nextValue]);
    socket.write(frame(HEADERS, END_HEADERS | END_STREAM, streamId, block));
  });
  let client: http2.ClientHttp2Session | null = null;
  try {
    client = await connectClient(server.port);
    const session = client;
    // nghttp2 rejects values with leading or trailing whitespace (RFC 9113 §8.2.1).
    const value = headerValue.filter((v) => v.trim() === v);
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        nextValue = v;
        const headers = await roundTrip(session, { ":method": "POST", ":path": "/shoal.Control/GetNode" });
        assert.equal(headers[":status"], 200);
        assert.equal(headers["content-type"], "application/grpc");
        assert.equal(headers["x-test"], v);
      }),
      { numRuns: 100, endOnFailure: true },
    );
  } finally {
    client?.destroy();
    await server.close();
  }
});
