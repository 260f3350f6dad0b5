/**
 * Decoding protobuf bytes in one pass into the plain objects that `Codec.decode` returns.
 *
 * protobufjs decodes into message instances, `toObject` copies those into plain objects with
 * their defaults, and the codec then deletes the nulls left for unset message fields: three
 * passes and two object graphs per message, the largest share of a follower's allocation. This
 * reads each field once, with protobufjs's own Reader, and builds each object once: the same
 * keys in the same order, the same values and value types, the same inputs refused.
 *
 * It covers what shoal's protos use: proto3 scalars (string, bytes, bool, int32, uint32,
 * uint64, open enums whose default is 0), nested and repeated messages, oneofs of those, and
 * map<string, string>. For a type that reaches anything else, {@link plainDecoder} returns
 * undefined and the codec keeps protobufjs's path.
 */
import protobuf from "protobufjs";

const { Reader, util } = protobuf;
type ProtobufReader = protobuf.Reader;

/** How one value of a field is read. */
const enum Kind { STRING, STRING_VERIFIED, BYTES, BOOL, INT32, UINT32, UINT64, MESSAGE, MAP, MAP_VERIFIED }

/** The wire type of one (unpacked) value of each kind: varint 0, length-delimited 2. */
const WIRE_TYPE: Readonly<Record<Kind, number>> = {
  [Kind.STRING]: 2, [Kind.STRING_VERIFIED]: 2, [Kind.BYTES]: 2, [Kind.BOOL]: 0, [Kind.INT32]: 0,
  [Kind.UINT32]: 0, [Kind.UINT64]: 0, [Kind.MESSAGE]: 2, [Kind.MAP]: 2, [Kind.MAP_VERIFIED]: 2,
};

/** The Reader method protobufjs uses for a packed run of each varint kind. */
const PACKED_READER = { [Kind.BOOL]: "bools", [Kind.INT32]: "int32s", [Kind.UINT32]: "uint32s", [Kind.UINT64]: "uint64s" } as const;
type PackedKind = keyof typeof PACKED_READER;

/** How one field of a message type is read and where its value goes. */
interface FieldPlan {
  readonly name: string;
  /** Its place in a message's array of values while the message is read. */
  readonly slot: number;
  readonly kind: Kind;
  readonly repeated: boolean;
  /** For a message field: how that type is read (filled in once every plan exists, for recursive types). */
  message: MessagePlan | undefined;
  /** Whether the field is in a oneof: then it has no default, and its key is there only when it was read. */
  readonly inOneof: boolean;
  /** For a field in a oneof: the slots of the oneof's other fields, which a value of this one clears. */
  readonly clears: readonly number[];
}

/** How one message type is read. */
interface MessagePlan {
  /** Field plans by field number. */
  readonly byNumber: Map<number, FieldPlan>;
  /** Every field, in the order of the plain object's keys (see {@link outputOrder}). */
  readonly output: readonly FieldPlan[];
  /** Whether the type has no fields: protobufjs then skips unknown fields slightly differently. */
  readonly empty: boolean;
}

/**
 * The values read so far of one message: by slot, `undefined` where nothing was read; a
 * singular message field holds its own values (so that a second occurrence merges into it, as
 * protobuf requires), a repeated field its array, a map field its object.
 */
type Values = unknown[];

/** The kind of a field's values, or undefined when this decoder does not cover it. */
function kindOf(field: protobuf.Field): Kind | undefined {
  const features = (field as unknown as { _features: { utf8_validation?: string } })._features;
  if (field.map) {
    const mapField = field as unknown as protobuf.MapField;
    if (mapField.keyType !== "string" || mapField.type !== "string") return undefined;
    return features.utf8_validation === "VERIFY" ? Kind.MAP_VERIFIED : Kind.MAP;
  }
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    const closed = (resolved as unknown as { _features: { enum_type?: string } })._features.enum_type === "CLOSED";
    return !closed && field.typeDefault === 0 ? Kind.INT32 : undefined;
  }
  if (resolved instanceof protobuf.Type) return Kind.MESSAGE;
  switch (field.type) {
    case "string": return features.utf8_validation === "VERIFY" ? Kind.STRING_VERIFIED : Kind.STRING;
    case "bytes": return Kind.BYTES;
    case "bool": return Kind.BOOL;
    case "int32": return Kind.INT32;
    case "uint32": return Kind.UINT32;
    case "uint64": return Kind.UINT64;
    default: return undefined;
  }
}

/**
 * The fields in the order `toObject` gives their keys: repeated fields, then maps, then the
 * other fields outside oneofs (each group by field number: these get defaults first), then the
 * fields of oneofs by field number (keys added only when set).
 */
function outputOrder(fields: readonly protobuf.Field[]): protobuf.Field[] {
  const byId = [...fields].sort((a, b) => a.id - b.id);
  const defaulted = byId.filter((f) => !f.partOf);
  return [
    ...defaulted.filter((f) => f.repeated),
    ...defaulted.filter((f) => !f.repeated && f.map),
    ...defaulted.filter((f) => !f.repeated && !f.map),
    ...byId.filter((f) => f.partOf),
  ];
}

/**
 * Plans `type` and every type it reaches into `plans`; false when one of them uses something
 * this decoder does not cover.
 */
function planType(type: protobuf.Type, plans: Map<protobuf.Type, MessagePlan>): boolean {
  if (plans.has(type)) return true;
  const fields = type.fieldsArray.map((f) => f.resolve());
  const slots = new Map(fields.map((f, i) => [f, i]));
  const byNumber = new Map<number, FieldPlan>();
  const output: FieldPlan[] = [];
  plans.set(type, { byNumber, output, empty: fields.length === 0 });
  for (const field of outputOrder(fields)) {
    const kind = kindOf(field);
    if (kind === undefined || field.required || (field as unknown as { delimited?: boolean }).delimited) return false;
    if (field.partOf && (field.repeated || field.map || field.partOf.isProto3Optional)) return false;
    const clears = field.partOf ? field.partOf.fieldsArray.filter((f) => f !== field).map((f) => slots.get(f)!) : [];
    const fieldPlan: FieldPlan = { name: field.name, slot: slots.get(field)!, kind, repeated: field.repeated, message: undefined, inOneof: Boolean(field.partOf), clears };
    byNumber.set(field.id, fieldPlan);
    output.push(fieldPlan);
  }
  for (const field of fields) {
    if (field.resolvedType instanceof protobuf.Type) {
      if (!planType(field.resolvedType, plans)) return false;
      byNumber.get(field.id)!.message = plans.get(field.resolvedType);
    }
  }
  return true;
}

// ---- reading -------------------------------------------------------------------------------

/** A Reader's fields that protobufjs's generated decoders use directly. */
interface ReaderState {
  buf: Uint8Array;
  pos: number;
  len: number;
}

/**
 * Reads a varint as an unsigned 64-bit number, as `Reader#uint64` followed by `toObject`'s
 * conversion do (`LongBits#toNumber(true)`: exact up to 2^53), without making the Long.
 * The same bytes are accepted and refused as by protobufjs's `readLongVarint`.
 */
function readUint64(r: ProtobufReader): number {
  const state = r as unknown as ReaderState;
  const { buf, len } = state;
  let pos = state.pos;
  let lo = 0;
  let hi = 0;
  let i = 0;
  if (len - pos > 4) {
    for (; i < 4; ++i) {
      lo = (lo | ((buf[pos]! & 127) << (i * 7))) >>> 0;
      if (buf[pos++]! < 128) return finish(state, pos, lo, hi);
    }
    lo = (lo | ((buf[pos]! & 127) << 28)) >>> 0;
    hi = (hi | ((buf[pos]! & 127) >> 4)) >>> 0;
    if (buf[pos++]! < 128) return finish(state, pos, lo, hi);
    i = 0;
  } else {
    for (; i < 4; ++i) {
      if (pos >= len) return outOfRange(state, pos);
      lo = (lo | ((buf[pos]! & 127) << (i * 7))) >>> 0;
      if (buf[pos++]! < 128) return finish(state, pos, lo, hi);
    }
    return outOfRange(state, pos);
  }
  for (; i < 5; ++i) {
    if (pos >= len) return outOfRange(state, pos);
    hi = (hi | ((buf[pos]! & 127) << (i * 7 + 3))) >>> 0;
    if (buf[pos++]! < 128) return finish(state, pos, lo, hi);
  }
  state.pos = pos;
  throw Error("invalid varint encoding");
}

function finish(state: ReaderState, pos: number, lo: number, hi: number): number {
  state.pos = pos;
  return lo + hi * 4294967296;
}

function outOfRange(state: ReaderState, pos: number): never {
  state.pos = pos;
  throw RangeError(`index out of range: ${pos} + 1 > ${state.len}`);
}

/** `value` (a Long or a number, as protobufjs's packed readers give) as `toObject` converts it. */
function longToNumber(value: unknown): number {
  if (typeof value === "number") return value;
  const long = value as { low: number; high: number };
  return new util.LongBits(long.low >>> 0, long.high >>> 0).toNumber(true);
}

/**
 * Limits `state` to the next `length` bytes, a length-delimited part (a message or a map entry),
 * as protobufjs does; returns the limit it had, for {@link leaveDelimited}.
 */
function enterDelimited(state: ReaderState, length: number): number {
  const end = state.pos + length;
  if (end > state.len) throw RangeError("index out of range");
  const outer = state.len;
  state.len = end;
  return outer;
}

/** Checks that the delimited part was read to its end, and restores the limit `outer`. */
function leaveDelimited(state: ReaderState, outer: number): void {
  if (state.pos !== state.len) throw RangeError("index out of range");
  state.len = outer;
}

/** The Reader methods protobufjs's generated decoders use that its typings leave out. */
interface ReaderExtras {
  /** A field's tag: number and wire type. */
  tag(): number;
  /** A length prefix. */
  size(): number;
}

/** `r` with the methods its typings leave out. */
function extras(r: ProtobufReader): ReaderExtras {
  return r as unknown as ReaderExtras;
}

/** UTF-8 decoders as protobufjs's: one refuses invalid bytes (fields whose features verify UTF-8), one replaces them. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LOOSE_UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Node's native slicing of bytes into strings, Buffer methods that work on any Uint8Array. */
const { latin1Slice, utf8Slice } = Buffer.prototype as unknown as Record<"latin1Slice" | "utf8Slice", (this: Uint8Array, start: number, end: number) => string>;

/**
 * Reads a length-prefixed string as `Reader#stringVerify` (`verify`) or `Reader#string` do:
 * the same text, the same bytes refused, but always as one flat string. protobufjs builds a
 * string of under 64 bytes by appending eight characters at a time, which V8 keeps as a tree
 * of concatenations: an id of 25 characters decoded on a follower was seven heap objects
 * instead of one, for as long as the stored object holding it lived (in a heap snapshot of a
 * follower holding about 80,000 configs, a quarter of all its heap objects). ASCII, the common
 * case, is sliced natively; anything else goes through TextDecoder.
 */
function readString(r: ProtobufReader, verify: boolean): string {
  const state = r as unknown as ReaderState;
  const length = extras(r).size();
  const start = state.pos;
  const end = start + length;
  if (end > state.len) throw RangeError("index out of range");
  state.pos = end;
  const buf = state.buf;
  let i = start;
  while (i < end && buf[i]! < 0x80) i++;
  if (i === end) return latin1Slice.call(buf, start, end);
  // A Buffer's loose strings come from Node's UTF-8 decoder in protobufjs (BufferReader), the rest from TextDecoder.
  if (!verify && Buffer.isBuffer(buf)) return utf8Slice.call(buf, start, end);
  return (verify ? STRICT_UTF8 : LOOSE_UTF8).decode(buf.subarray(start, end));
}

/** Reads one value of a scalar field (never MESSAGE or MAP). */
function readScalar(r: ProtobufReader, kind: Kind): unknown {
  switch (kind) {
    case Kind.STRING: return readString(r, false);
    case Kind.STRING_VERIFIED: return readString(r, true);
    case Kind.BYTES: return r.bytes();
    case Kind.BOOL: return r.bool();
    case Kind.INT32: return r.int32();
    case Kind.UINT32: return r.uint32();
    default: return readUint64(r);
  }
}

/**
 * Reads one entry of a map<string, string> into `map`, as protobufjs's generated decoders do:
 * a missing key or value is "", a later entry with the same key wins.
 */
function readMapEntry(r: ProtobufReader, map: Record<string, string>, verified: boolean, depth: number): void {
  const state = r as unknown as ReaderState;
  const outer = enterDelimited(state, extras(r).size());
  let key = "";
  let value = "";
  while (state.pos < state.len) {
    const tag = extras(r).tag();
    const wireType = tag & 7;
    const field = tag >>> 3;
    if ((field === 1 || field === 2) && wireType === 2) {
      const text = readString(r, verified);
      if (field === 1) key = text;
      else value = text;
      continue;
    }
    r.skipType(wireType, depth, field);
  }
  leaveDelimited(state, outer);
  if (key === "__proto__") util.makeProp(map, key);
  map[key] = value;
}

/**
 * Reads one message of `plan` from `r`: `length` bytes, or (undefined) to the end of the
 * reader. `into` holds what earlier occurrences of the same field gave, to merge with.
 */
function readValues(plan: MessagePlan, r: ProtobufReader, length: number | undefined, depth: number, into?: Values): Values {
  const state = r as unknown as ReaderState;
  if (depth > Reader.recursionLimit) throw Error("max depth exceeded");
  const outer = length === undefined ? undefined : enterDelimited(state, length);
  const values: Values = into ?? new Array<unknown>(plan.output.length);
  while (state.pos < state.len) {
    const tag = extras(r).tag();
    const wireType = tag & 7;
    const field = plan.byNumber.get(tag >>> 3);
    if (field && readField(field, values, r, wireType, depth)) continue;
    // protobufjs passes a type without fields the whole tag here, and the others the field number.
    r.skipType(wireType, depth, plan.empty ? tag : tag >>> 3);
  }
  if (outer !== undefined) leaveDelimited(state, outer);
  return values;
}

/** Reads one occurrence of `field` into `values`; false when its wire type is not the field's (then it is skipped as unknown). */
function readField(field: FieldPlan, values: Values, r: ProtobufReader, wireType: number, depth: number): boolean {
  const { kind, slot } = field;
  if (field.repeated) {
    if (wireType === 2 && kind in PACKED_READER) {
      const list = (values[slot] ??= []) as unknown[];
      (r as unknown as Record<string, (into: unknown[]) => unknown[]>)[PACKED_READER[kind as PackedKind]]!(list);
      return true;
    }
    if (wireType !== WIRE_TYPE[kind]) return false;
    const list = (values[slot] ??= []) as unknown[];
    list.push(kind === Kind.MESSAGE ? build(field.message!, readValues(field.message!, r, extras(r).size(), depth + 1)) : readScalar(r, kind));
    return true;
  }
  if (wireType !== WIRE_TYPE[kind]) return false;
  if (kind === Kind.MAP || kind === Kind.MAP_VERIFIED) {
    readMapEntry(r, (values[slot] ??= {}) as Record<string, string>, kind === Kind.MAP_VERIFIED, depth);
    return true;
  }
  values[slot] = kind === Kind.MESSAGE
    ? readValues(field.message!, r, extras(r).size(), depth + 1, values[slot] as Values | undefined)
    : readScalar(r, kind);
  for (const other of field.clears) values[other] = undefined;
  return true;
}

/** The default `toObject` gives a scalar field that was not read (or read with its default value). */
function scalarDefault(kind: Kind): unknown {
  switch (kind) {
    case Kind.STRING:
    case Kind.STRING_VERIFIED: return "";
    case Kind.BYTES: return util.newBuffer([]);
    case Kind.BOOL: return false;
    default: return 0;
  }
}

/** The plain object for the values read of one message, with the keys `toObject` gives, in its order. */
function build(plan: MessagePlan, values: Values): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of plan.output) {
    const value = values[field.slot];
    if (field.repeated) {
      const list = (value as unknown[] | undefined) ?? [];
      out[field.name] = field.kind === Kind.UINT64 ? list.map(longToNumber) : list;
    } else if (field.kind === Kind.MAP || field.kind === Kind.MAP_VERIFIED) {
      out[field.name] = value ?? {};
    } else if (field.kind === Kind.MESSAGE) {
      if (value !== undefined) out[field.name] = build(field.message!, value as Values);
    } else if (field.inOneof) {
      if (value !== undefined) out[field.name] = value;
    } else if (value === undefined || (field.kind === Kind.BYTES && (value as Uint8Array).length === 0)) {
      // protobufjs deletes a field read with its default value (empty bytes too), so that it gets the default.
      out[field.name] = scalarDefault(field.kind);
    } else {
      out[field.name] = value;
    }
  }
  return out;
}

/**
 * A one-pass decoder for `type` giving what `stripNulls(type.toObject(type.decode(bytes),
 * { longs: Number, enums: Number, defaults: true, arrays: true }))` gives, and throwing where
 * `type.decode` throws; undefined when `type` reaches a field this module does not cover.
 */
export function plainDecoder(type: protobuf.Type): ((bytes: Uint8Array) => Record<string, unknown>) | undefined {
  const plans = new Map<protobuf.Type, MessagePlan>();
  if (!planType(type, plans)) return undefined;
  const plan = plans.get(type)!;
  return (bytes) => build(plan, readValues(plan, Reader.create(bytes), undefined, 0));
}
