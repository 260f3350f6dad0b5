/**
 * Runtime support for the code that `npm run proto` generates: a typed encoder and decoder
 * for one message type of a protobufjs reflection root.
 */
import protobuf from "protobufjs";
import { plainDecoder } from "./plain-decoder.ts";

/** Encodes and decodes one message type. Decoded objects have every scalar field filled in. */
export interface Codec<T> {
  /** Serializes a message to the protobuf wire format. */
  encode(message: T): Uint8Array;
  /** Parses wire bytes; throws an Error naming the type when the bytes are not a valid message. */
  decode(bytes: Uint8Array): T;
  /** A writer of messages of this type as the elements of repeated field `fieldNumber` of some other message. */
  repeatedFieldWriter(fieldNumber: number): RepeatedFieldWriter<T>;
}

/**
 * Encodes messages one at a time as the elements of a repeated message field: each element's
 * tag, length and bytes, one after another, written straight into one growing buffer (the wire
 * form of the field, however many runs of elements are concatenated). Encoding each message on
 * its own makes a buffer per message and another copy to put them together.
 */
export interface RepeatedFieldWriter<T> {
  /** Appends `message` as the next element. */
  add(message: T): void;
  /** The elements added since the last `take`, in one buffer; the writer starts afresh. */
  take(): Uint8Array;
}

/** Loads a reflection root from the JSON descriptor embedded in generated code. */
export function rootFromJSON(descriptor: object): protobuf.Root {
  return protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
}

/** Options that give decoded messages plain JS values: numbers for 64-bit ints and enums. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  defaults: true,
  arrays: true,
};

/** Removes the `null`s protobufjs puts in unset message fields, so they read as absent. */
function stripNulls(obj: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === null) delete obj[key];
    else if (Array.isArray(value)) {
      for (const item of value) if (item && typeof item === "object" && !(item instanceof Uint8Array)) stripNulls(item);
    } else if (typeof value === "object" && !(value instanceof Uint8Array)) stripNulls(value as Record<string, unknown>);
  }
  return obj;
}

/**
 * Decodes `bytes` as `type` with protobufjs's reflection: its decoder, then `toObject` with
 * {@link TO_OBJECT}, then {@link stripNulls}. This defines what every codec's `decode` returns;
 * `plainDecoder` gives the same in one pass for the types it covers.
 */
export function decodeByReflection(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return stripNulls(type.toObject(type.decode(bytes), TO_OBJECT));
}

/** Makes the codec for `typeName` (fully qualified, such as `shoal.raft.Message`). */
export function makeCodec<T>(root: protobuf.Root, typeName: string): Codec<T> {
  const type = root.lookupType(typeName);
  const decode = plainDecoder(type) ?? ((bytes: Uint8Array) => decodeByReflection(type, bytes));
  return {
    encode(message: T): Uint8Array {
      return type.encode(message as unknown as Record<string, unknown>).finish();
    },
    repeatedFieldWriter(fieldNumber: number): RepeatedFieldWriter<T> {
      const tag = lengthDelimitedTag(fieldNumber);
      const writer = protobuf.Writer.create();
      return {
        add(message: T): void {
          type.encode(message as unknown as Record<string, unknown>, writer.uint32(tag).fork()).ldelim();
        },
        take(): Uint8Array {
          const bytes = writer.finish();
          writer.reset();
          return bytes;
        },
      };
    },
    decode(bytes: Uint8Array): T {
      try {
        return decode(bytes) as T;
      } catch (err) {
        throw new Error(`invalid ${typeName}: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}

/** `bytes` as a Buffer over the same memory (what gRPC's serializers must return), without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The tag of a length-delimited field (bytes, string, message) numbered `fieldNumber`: wire type 2. */
function lengthDelimitedTag(fieldNumber: number): number {
  return (fieldNumber << 3) | 2;
}

/** Bytes of `n` (a non-negative integer below 2^32) as a protobuf varint. */
export function varintLength(n: number): number {
  let len = 1;
  while (n > 0x7f) {
    n >>>= 7;
    len++;
  }
  return len;
}

/** Writes `n` as a protobuf varint into `out` at `offset`; returns the offset after it. */
export function writeVarint(out: Uint8Array, offset: number, n: number): number {
  while (n > 0x7f) {
    out[offset++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[offset++] = n;
  return offset;
}

/**
 * `message` (an encoded message) with the bytes field `fieldNumber` = `bytes` appended: the same
 * message as if the field had been set before encoding (fields may come in any order on the
 * wire). Large byte fields are copied once, where protobufjs's writer is several times slower.
 */
export function appendBytesField(message: Uint8Array, fieldNumber: number, bytes: Uint8Array): Uint8Array {
  const head = bytesFieldHeader(message, fieldNumber, bytes.byteLength);
  const out = new Uint8Array(head.byteLength + bytes.byteLength);
  out.set(head, 0);
  out.set(bytes, head.byteLength);
  return out;
}

/**
 * `message` (an encoded message) followed by the tag and length of the bytes field
 * `fieldNumber` holding `length` bytes: what {@link appendBytesField} puts before the bytes,
 * for a caller that writes them after it itself.
 */
export function bytesFieldHeader(message: Uint8Array, fieldNumber: number, length: number): Uint8Array {
  const tag = lengthDelimitedTag(fieldNumber);
  const out = new Uint8Array(message.byteLength + varintLength(tag) + varintLength(length));
  out.set(message, 0);
  writeVarint(out, writeVarint(out, message.byteLength, tag), length);
  return out;
}
