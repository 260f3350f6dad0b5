import assert from "node:assert/strict";
import { test } from "node:test";
import { Duplex } from "node:stream";
import fc from "fast-check";
import { H2ServerConnection } from "./connection.ts";
import type { H2Request, H2RequestHandler } from "./connection.ts";
import { CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, Flag, FrameType, H2Error, frame, settingsFrame } from "./frames.ts";
import { encodeHeaders } from "./hpack.ts";

/** A socket stand-in: what the connection writes is kept; what a test pushes is what it reads. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  ended = false;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }

  override _final(callback: () => void): void {
    this.ended = true;
    callback();
  }

  /** The frames written so far. */
  frames(): { type: number; flags: number; streamId: number; length: number; payload: Buffer }[] {
    const all = Buffer.concat(this.written);
    const out: { type: number; flags: number; streamId: number; length: number; payload: Buffer }[] = [];
    let at = 0;
    while (at + 9 <= all.length) {
      const length = all.readUIntBE(at, 3);
      out.push({ type: all[at + 3]!, flags: all[at + 4]!, streamId: all.readUInt32BE(at + 5) & 0x7fffffff, length, payload: all.subarray(at + 9, at + 9 + length) });
      at += 9 + length;
    }
    assert.equal(at, all.length, "the connection wrote whole frames only");
    return out;
  }
}

/** A handler that answers every request at once, and records what it was told. */
class Answering implements H2RequestHandler {
  readonly requests: number[] = [];
  readonly refused: number[] = [];
  readonly cancelled: number[] = [];

  onRequest(conn: H2ServerConnection, req: H2Request): void {
    this.requests.push(req.streamId);
    conn.respond(req.streamId, encodeHeaders([":status", "200"]), Buffer.from("ok"), encodeHeaders(["grpc-status", "0"]));
  }

  onRefused(conn: H2ServerConnection, streamId: number): void {
    this.refused.push(streamId);
    conn.respondHeadersOnly(streamId, encodeHeaders([":status", "200", "grpc-status", "8"]));
  }

  onCancel(_conn: H2ServerConnection, streamId: number): void {
    this.cancelled.push(streamId);
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const REQUEST_HEADERS = [":method", "POST", ":path", "/s/M", ":scheme", "https", "content-type", "application/grpc"];

/** Frames a client might send, well-formed or not. */
const anyFrame = fc.record({
  type: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x2a),
  flags: fc.oneof(fc.constantFrom(0, Flag.END_STREAM, Flag.END_HEADERS, Flag.END_HEADERS | Flag.END_STREAM, Flag.PADDED), fc.nat(255)),
  streamId: fc.oneof(fc.constantFrom(0, 1, 3, 5, 7, 2), fc.integer({ min: 1, max: 41 })),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
    fc.constant(encodeHeaders(REQUEST_HEADERS)),
    fc.array(fc.tuple(fc.stringMatching(/^[a-z-]{1,8}$/), fc.string({ maxLength: 12 }).map((s) => s.replace(/[^\x20-\x7e]/g, "x"))), { maxLength: 4 })
      .map((fields) => encodeHeaders([...REQUEST_HEADERS, ...fields.flat()])),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((n) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])),
  ),
});

test("any sequence of frames, well-formed or not, never throws: the connection answers, refuses a stream or ends with GOAWAY, and writes whole frames", async () => {
  await fc.assert(fc.asyncProperty(fc.array(anyFrame, { minLength: 1, maxLength: 24 }), async (frames) => {
    const socket = new FakeSocket();
    const handler = new Answering();
    new H2ServerConnection(socket, handler);
    socket.push(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), ...frames.map((f) => frame(f.type, f.flags, f.streamId, f.payload))]));
    await settle();
    // Afterwards, a well-formed request on a new stream: answered, unless the connection ended.
    socket.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 0x7fff_fff1, encodeHeaders(REQUEST_HEADERS)));
    await settle();
    const written = socket.frames();
    const away = written.findIndex((f) => f.type === FrameType.GOAWAY);
    if (away >= 0) {
      assert.equal(away, written.length - 1, "nothing is written after GOAWAY");
      assert.ok(socket.ended, "a connection that sent GOAWAY is ended");
      const code = written[away]!.payload.readUInt32BE(4);
      assert.notEqual(code, H2Error.INTERNAL_ERROR, `an internal error (a bug here): ${written[away]!.payload.subarray(8).toString()}`);
    } else if (!socket.ended) {
      // (An ended connection without GOAWAY is one the client ended with its own.)
      assert.ok(handler.requests.includes(0x7fff_fff1) || handler.refused.includes(0x7fff_fff1)
        || written.some((f) => f.type === FrameType.RST_STREAM && f.streamId === 0x7fff_fff1), "the last request was answered, refused or reset");
    }
    for (const f of written) assert.ok(f.length <= DEFAULT_MAX_FRAME_SIZE, "no frame longer than the client allows");
    assert.equal(new Set(handler.requests).size, handler.requests.length, "each stream is handed over once");
    for (const id of handler.requests) assert.ok(!handler.cancelled.includes(id), `stream ${id} was answered, not cancelled`);
    socket.destroy();
  }), { numRuns: 400 });
});

test("any single frame after the handshake, whatever its type, flags, stream and bytes, is handled without an internal error", async () => {
  const oneFrame = fc.record({
    type: fc.integer({ min: 0, max: 10 }),
    flags: fc.nat(255),
    streamId: fc.constantFrom(0, 1, 2, 3),
    payload: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  });
  await fc.assert(fc.asyncProperty(oneFrame, async (f) => {
    const socket = new FakeSocket();
    new H2ServerConnection(socket, new Answering());
    socket.push(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), frame(f.type, f.flags, f.streamId, f.payload)]));
    await settle();
    const away = socket.frames().find((x) => x.type === FrameType.GOAWAY);
    if (away) assert.notEqual(away.payload.readUInt32BE(4), H2Error.INTERNAL_ERROR, `an internal error (a bug here): ${away.payload.subarray(8).toString()}`);
    socket.destroy();
  }), { numRuns: 3000 });
});

test("requests open beyond the limit are refused with REFUSED_STREAM, and served again once others end", async () => {
  const socket = new FakeSocket();
  const held: number[] = [];
  const conn = new H2ServerConnection(socket, {
    onRequest: (_c, req) => void held.push(req.streamId),
    onRefused: () => assert.fail("nothing is too large here"),
    onCancel: () => undefined,
  }, { maxConcurrentStreams: 2, maxHeaderListSize: 16_384, maxRequestBytes: 1024, streamWindow: 65_535, connectionWindow: 65_535 });
  const request = (id: number): Buffer => frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders(REQUEST_HEADERS));
  socket.push(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), request(1), request(3), request(5)]));
  await settle();
  assert.deepEqual(held, [1, 3]);
  assert.ok(socket.frames().some((f) => f.type === FrameType.RST_STREAM && f.streamId === 5), "stream 5 was refused");
  conn.respondHeadersOnly(1, encodeHeaders([":status", "200"]));
  socket.push(request(7));
  await settle();
  assert.deepEqual(held, [1, 3, 7]);
  socket.destroy();
});

test("a request body beyond the limit is refused once, and what the client still sends of it is dropped", async () => {
  const socket = new FakeSocket();
  const handler = new Answering();
  new H2ServerConnection(socket, handler, { maxConcurrentStreams: 10, maxHeaderListSize: 16_384, maxRequestBytes: 100, streamWindow: 65_535, connectionWindow: 65_535 });
  socket.push(Buffer.concat([
    CLIENT_PREFACE, settingsFrame([]), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaders(REQUEST_HEADERS)),
    frame(FrameType.DATA, 0, 1, Buffer.alloc(80)), frame(FrameType.DATA, 0, 1, Buffer.alloc(80)), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(80)),
    frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, encodeHeaders(REQUEST_HEADERS)),
  ]));
  await settle();
  assert.deepEqual(handler.refused, [1]);
  assert.deepEqual(handler.requests, [3]);
  const written = socket.frames();
  assert.ok(written.some((f) => f.type === FrameType.RST_STREAM && f.streamId === 1), "the rest of stream 1 was stopped (RST_STREAM NO_ERROR)");
  assert.ok(!written.some((f) => f.type === FrameType.GOAWAY), "the connection goes on");
  socket.destroy();
});

test("data beyond a stream's window resets that stream, beyond the connection's window ends the connection; up to them it is taken", async () => {
  const limits = { maxConcurrentStreams: 10, maxHeaderListSize: 16_384, maxRequestBytes: 10_000, streamWindow: 100, connectionWindow: 1_000 };
  const open = (id: number): Buffer => frame(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders(REQUEST_HEADERS));
  const resets = (socket: FakeSocket): [number, number][] =>
    socket.frames().filter((f) => f.type === FrameType.RST_STREAM).map((f) => [f.streamId, f.payload.readUInt32BE(0)]);

  const streams = new FakeSocket();
  const handler = new Answering();
  new H2ServerConnection(streams, handler, limits);
  streams.push(Buffer.concat([
    CLIENT_PREFACE, settingsFrame([]),
    open(1), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.alloc(100)), // the whole window: taken
    open(3), frame(FrameType.DATA, 0, 3, Buffer.alloc(101)), // one byte more: FLOW_CONTROL_ERROR
  ]));
  await settle();
  assert.deepEqual(handler.requests, [1]);
  assert.deepEqual(resets(streams), [[3, H2Error.FLOW_CONTROL_ERROR]]);
  assert.ok(!streams.frames().some((f) => f.type === FrameType.GOAWAY), "the connection goes on");
  streams.destroy();

  const connection = new FakeSocket();
  new H2ServerConnection(connection, new Answering(), { ...limits, streamWindow: 2_000 });
  connection.push(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), open(1), frame(FrameType.DATA, 0, 1, Buffer.alloc(1_001))]));
  await settle();
  const away = connection.frames().find((f) => f.type === FrameType.GOAWAY);
  assert.equal(away?.payload.readUInt32BE(4), H2Error.FLOW_CONTROL_ERROR);
  connection.destroy();
});
