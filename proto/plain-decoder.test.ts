import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { getHeapSnapshot } from "node:v8";
import protobuf from "protobufjs";
import { decodeByReflection, rootFromJSON } from "./codec.ts";
import { descriptorOf, parseProto, protoFiles } from "./generate.ts";
import { plainDecoder } from "./plain-decoder.ts";

/** Every message type of shoal's .proto files, loaded as the generated code loads them (from JSON). */
function allTypes(): protobuf.Type[] {
  const types = new Map<string, protobuf.Type>();
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type && !types.has(nested.fullName)) types.set(nested.fullName, nested);
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  for (const file of protoFiles()) {
    const root = rootFromJSON(descriptorOf(parseProto(file)));
    root.resolveAll();
    walk(root);
  }
  return [...types.values()];
}

const TYPES = allTypes();

/** Random values of `type`'s fields, nested `depth` levels at most; every field may be absent. */
function arbitraryMessage(type: protobuf.Type, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of type.fieldsArray.map((f) => f.resolve())) {
    const one = arbitraryValue(field, depth);
    if (!one) continue;
    if (field.map) fields[field.name] = fc.dictionary(fc.oneof(fc.constantFrom("__proto__", "0", "10", "1", "a"), fc.string()), one as fc.Arbitrary<string>, { maxKeys: 4 });
    else fields[field.name] = field.repeated ? fc.array(one, { maxLength: 3 }) : one;
  }
  return fc.record(fields, { requiredKeys: [] });
}

function arbitraryValue(field: protobuf.Field, depth: number): fc.Arbitrary<unknown> | undefined {
  if (field.resolvedType instanceof protobuf.Type) return depth > 0 ? arbitraryMessage(field.resolvedType, depth - 1) : undefined;
  if (field.resolvedType instanceof protobuf.Enum) return fc.integer({ min: -2, max: 900 });
  switch (field.type) {
    case "string": return fc.string({ unit: "binary", maxLength: 6 });
    case "bytes": return fc.oneof(fc.uint8Array({ maxLength: 6 }), fc.constant(new Uint8Array()));
    case "bool": return fc.boolean();
    case "int32": return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case "uint32": return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case "uint64": return fc.oneof(fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1), fc.maxSafeNat());
    default: throw new Error(`no random values for field type ${field.type}: add them here`);
  }
}

/** The keys of `value` and of everything in it, in order, so that key order is compared too. */
function keyOrder(value: unknown): unknown {
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return null;
  if (Array.isArray(value)) return value.map(keyOrder);
  return Object.entries(value).map(([k, v]) => [k, keyOrder(v)]);
}

type Outcome = { value: unknown } | { error: string };

function outcome(decode: (bytes: Uint8Array) => unknown, bytes: Uint8Array): Outcome {
  try {
    return { value: decode(bytes) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Checks that both decoders accept or both refuse `bytes`, and give the same object, key order and byte-array types included. */
function assertSameDecoding(type: protobuf.Type, bytes: Uint8Array): void {
  const decode = plainDecoder(type)!;
  for (const input of [bytes, Buffer.from(bytes)]) {
    const expected = outcome((b) => decodeByReflection(type, b), input);
    const actual = outcome(decode, input);
    const what = `${type.fullName} from ${Buffer.isBuffer(input) ? "a Buffer" : "a Uint8Array"} of [${[...bytes].join(",")}]`;
    assert.equal("error" in actual, "error" in expected, `${what}: ${JSON.stringify(actual)} against ${JSON.stringify(expected)}`);
    if ("value" in actual && "value" in expected) {
      assert.deepStrictEqual(actual.value, expected.value, what);
      assert.deepStrictEqual(keyOrder(actual.value), keyOrder(expected.value), `${what}: key order`);
    }
  }
}

/** Byte-level damage to an encoding: bytes changed, inserted or removed, and a truncation. */
const arbitraryDamage = fc.record({
  edits: fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom("set", "insert", "delete"), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
  truncateTo: fc.option(fc.nat()),
});

function damage(bytes: Uint8Array, { edits, truncateTo }: typeof arbitraryDamage extends fc.Arbitrary<infer D> ? D : never): Uint8Array {
  const out = [...bytes];
  for (const { at, op, byte } of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + (op === "insert" ? 1 : 0));
    if (op === "set" && out.length > 0) out[i] = byte;
    else if (op === "insert") out.splice(i, 0, byte);
    else if (op === "delete") out.splice(i, 1);
  }
  return new Uint8Array(truncateTo === null ? out : out.slice(0, truncateTo % (out.length + 1)));
}

test("every message type of shoal's protos gets the one-pass decoder", () => {
  assert.ok(TYPES.length > 50, `only ${TYPES.length} message types found`);
  const uncovered = TYPES.filter((t) => !plainDecoder(t)).map((t) => t.fullName);
  assert.deepEqual(uncovered, [], "these types fall back to protobufjs's slower path: cover what they use in plain-decoder.ts");
});

test("the one-pass decoder gives what protobufjs's decode, toObject and null-stripping give, for random messages of every type", () => {
  for (const type of TYPES) {
    fc.assert(fc.property(arbitraryMessage(type, 3), (message) => {
      assertSameDecoding(type, type.encode(message).finish());
    }), { numRuns: 40 });
  }
});

test("the one-pass decoder reads bytes held in a SharedArrayBuffer (as the Raft log and the store keep them), non-ASCII strings included", () => {
  for (const type of TYPES) {
    fc.assert(fc.property(arbitraryMessage(type, 3), (message) => {
      const bytes = type.encode(message).finish();
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength + 8), 8, bytes.byteLength);
      shared.set(bytes);
      assert.deepEqual(keyOrder(plainDecoder(type)!(shared)), keyOrder(plainDecoder(type)!(bytes)));
    }), { numRuns: 20 });
  }
  const config = TYPES.find((t) => t.name === "Config")!;
  const bytes = config.encode({ id: "ü-id", spec: { annotations: { name: "naïve ✓", labels: { "clé": "valeur ✓" } } } }).finish();
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  const decoded = plainDecoder(config)!(shared) as { id: string; spec: { annotations: { name: string; labels: Record<string, string> } } };
  assert.equal(decoded.spec.annotations.name, "naïve ✓");
  assert.deepEqual(decoded.spec.annotations.labels, { "clé": "valeur ✓" });
});

test("the one-pass decoder merges repeated occurrences and refuses damaged bytes exactly as protobufjs does", () => {
  for (const type of TYPES) {
    fc.assert(fc.property(arbitraryMessage(type, 2), arbitraryMessage(type, 2), arbitraryDamage, (a, b, harm) => {
      const first = type.encode(a).finish();
      const both = new Uint8Array([...first, ...type.encode(b).finish()]); // a message sent in two parts: the second merges in
      assertSameDecoding(type, both);
      assertSameDecoding(type, damage(both, harm));
    }), { numRuns: 40 });
  }
});

/** A tag: field number and wire type. */
function tag(field: number, wireType: number): number[] {
  return [...protobuf.Writer.create().uint32(((field << 3) | wireType) >>> 0).finish()];
}

/** Length-delimited `payload` for `field`. */
function delimited(field: number, payload: number[]): number[] {
  return [...tag(field, 2), ...protobuf.Writer.create().uint32(payload.length).finish(), ...payload];
}

const utf8 = (text: string): number[] => [...Buffer.from(text)];

/**
 * Hand-made encodings for one field that random messages seldom give: default values on the
 * wire, empty nested messages and packed runs, the longest and over-long varints, a truncated
 * varint, lengths past the end, the wrong wire type, and map entries with odd keys, with a part
 * missing, or with an unknown field.
 */
function edgeCases(field: protobuf.Field): number[][] {
  const id = field.id;
  const cases: number[][] = [
    [...tag(id, 0), 0], [...tag(id, 0), 0x80], [...tag(id, 0), ...Array<number>(9).fill(0xff), 0x01],
    [...tag(id, 0), ...Array<number>(9).fill(0xff), 0x7f], [...tag(id, 0), ...Array<number>(10).fill(0xff), 0x01], [...tag(id, 0), ...Array<number>(10).fill(0xff)],
    delimited(id, []), [...tag(id, 2), 5, 1], [...tag(id, 2), 0x80], [...tag(id, 1), 1, 2, 3, 4, 5, 6, 7, 8], [...tag(id, 5), 1, 2, 3, 4],
    delimited(id, [0x80, 0x01]), delimited(id, [0x01, 0x80]), delimited(id, utf8("é")), delimited(id, [0xc3]),
    // Strings around protobufjs's lengths (13 characters make a concatenation, 64 bytes go to TextDecoder), non-ASCII late, and invalid.
    ...[12, 13, 25, 63, 64, 100].map((n) => delimited(id, utf8("k".repeat(n)))),
    delimited(id, utf8(`${"a".repeat(20)}é€😀`)), delimited(id, utf8("\ufeffbom")), delimited(id, [...utf8("a".repeat(30)), 0xc3]),
    delimited(id, [...utf8("a".repeat(70)), 0xff, ...utf8("b")]),
  ];
  if (field.map) {
    cases.push(
      delimited(id, [...delimited(1, utf8("__proto__")), ...delimited(2, utf8("x"))]),
      delimited(id, [...delimited(1, utf8("7")), ...delimited(2, utf8("seven")), ...delimited(1, utf8("3"))]),
      delimited(id, delimited(2, utf8("no key"))), delimited(id, delimited(1, utf8("no value"))),
      delimited(id, [...delimited(1, utf8("k")), ...tag(3, 0), 1, ...delimited(2, utf8("v"))]),
      delimited(id, [...tag(1, 0), 1]), delimited(id, [...delimited(1, utf8("k")), 0x12, 9]),
    );
  }
  return cases;
}

test("the one-pass decoder treats hand-made edge cases of every field as protobufjs does", () => {
  for (const type of TYPES) {
    for (const field of type.fieldsArray.map((f) => f.resolve())) {
      for (const bytes of edgeCases(field)) {
        assertSameDecoding(type, new Uint8Array(bytes));
        assertSameDecoding(type, new Uint8Array([...bytes, ...bytes]));
      }
    }
  }
});

test("the one-pass decoder refuses messages nested deeper than protobufjs's recursion limit", () => {
  const root = protobuf.Root.fromJSON({ nested: { Deep: { fields: { child: { type: "Deep", id: 1 }, n: { type: "uint64", id: 2 } } } } });
  const deep = root.lookupType("Deep");
  let bytes = deep.encode({ n: 1 }).finish();
  for (let i = 0; i < protobuf.util.recursionLimit + 5; i++) {
    bytes = new Uint8Array([0x0a, ...protobuf.Writer.create().uint32(bytes.length).finish(), ...bytes]);
  }
  assert.throws(() => plainDecoder(deep)!(bytes), /max depth exceeded/);
  assert.throws(() => decodeByReflection(deep, bytes), /max depth exceeded/);
});

test("types outside what the one-pass decoder covers are left to protobufjs", () => {
  const root = rootFromJSON({
    nested: {
      Floats: { fields: { x: { type: "double", id: 1 } } },
      MessageMap: { fields: { m: { keyType: "string", type: "Floats", id: 1 } } },
      Wrapper: { fields: { inner: { type: "Floats", id: 1 }, name: { type: "string", id: 2 } } },
    },
  });
  for (const name of ["Floats", "MessageMap", "Wrapper"]) assert.equal(plainDecoder(root.lookupType(name)), undefined, name);
});

/** How many strings of the heap are concatenations (trees of string parts), from a heap snapshot. */
async function concatenatedStrings(): Promise<number> {
  let json = "";
  for await (const chunk of getHeapSnapshot()) json += String(chunk);
  const { snapshot, nodes } = JSON.parse(json) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[] };
  const fields = snapshot.meta.node_fields.length;
  const consType = snapshot.meta.node_types[0].indexOf("concatenated string");
  let count = 0;
  for (let i = snapshot.meta.node_fields.indexOf("type"); i < nodes.length; i += fields) if (nodes[i] === consType) count++;
  return count;
}

test("decoded strings are flat: an id is one string, not the tree of concatenations protobufjs builds", async () => {
  const type = TYPES.find((t) => t.fullName === ".shoal.store.StoreObject")!;
  const decode = plainDecoder(type)!;
  const encodings = Array.from({ length: 2_000 }, (_, i) => type.encode({ config: { id: `c${String(i).padStart(24, "0")}` } }).finish());
  const baseline = await concatenatedStrings();
  const kept = encodings.map((bytes) => decode(bytes));
  const ours = (await concatenatedStrings()) - baseline;
  const theirs = encodings.map((bytes) => decodeByReflection(type, bytes));
  const theirsCount = (await concatenatedStrings()) - baseline - ours;
  assert.ok(theirsCount >= 2_000, `protobufjs's decoding of the same ids made ${theirsCount} concatenations (what this guards against)`);
  assert.ok(ours < 100, `the one-pass decoder made ${ours} concatenations for 2,000 ids`);
  // Compared only now, so that both decodings stay reachable until both heap snapshots are taken.
  assert.deepEqual(kept, theirs, "both decoders give the same objects");
});
