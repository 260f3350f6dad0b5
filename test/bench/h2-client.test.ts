import assert from "node:assert/strict";
import { test } from "node:test";
import { Duplex } from "node:stream";
import { CLIENT_PREFACE, Flag, FrameType, Setting, frame, settingsFrame, windowUpdateFrame } from "../../manager/controlapi/h2/frames.ts";
import { encodeHeaders } from "../../manager/controlapi/h2/hpack.ts";
import { H2ClientConnection } from "./h2-client.ts";
import type { H2Answer } from "./h2-client.ts";

/** A socket stand-in: what the client writes is kept; what a test pushes is what it reads. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }

  /** The frames written after the preface: type, stream and payload length. */
  frames(): { type: number; flags: number; streamId: number; length: number }[] {
    const all = Buffer.concat(this.written).subarray(CLIENT_PREFACE.length);
    const out: { type: number; flags: number; streamId: number; length: number }[] = [];
    for (let at = 0; at + 9 <= all.length; at += 9 + all.readUIntBE(at, 3)) {
      out.push({ type: all[at + 3]!, flags: all[at + 4]!, streamId: all.readUInt32BE(at + 5) & 0x7fffffff, length: all.readUIntBE(at, 3) });
    }
    return out;
  }

  /** The bytes of DATA sent on `streamId`. */
  dataSent(streamId: number): number {
    return this.frames().filter((f) => f.type === FrameType.DATA && f.streamId === streamId).reduce((n, f) => n + f.length, 0);
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const REQUEST = [":method", "POST", ":path", "/s/M", "content-type", "application/grpc"];

test("a request body waits for the server's windows: no more than they allow until a WINDOW_UPDATE", async () => {
  const socket = new FakeSocket();
  const conn = new H2ClientConnection(socket);
  socket.push(settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 1000]]));
  await settle();
  let answer: H2Answer | undefined;
  const id = conn.request(REQUEST, Buffer.alloc(5000, 7), (err, a) => {
    assert.equal(err, undefined);
    answer = a;
  });
  await settle();
  assert.equal(socket.dataSent(id), 1000, "the stream's window");
  socket.push(windowUpdateFrame(id, 3000));
  await settle();
  assert.equal(socket.dataSent(id), 4000);
  socket.push(windowUpdateFrame(id, 10_000));
  await settle();
  assert.equal(socket.dataSent(id), 5000);
  const last = socket.frames().filter((f) => f.type === FrameType.DATA).at(-1)!;
  assert.equal(last.flags & Flag.END_STREAM, Flag.END_STREAM, "the last DATA ends the stream");
  // The connection's window (65,535 at first) binds too: a second stream gets only what is left of it.
  socket.push(settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]]));
  await settle();
  const second = conn.request(REQUEST, Buffer.alloc(100_000, 1), () => undefined);
  await settle();
  assert.equal(socket.dataSent(second), 65_535 - 5000);
  socket.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaders([":status", "200"])));
  socket.push(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaders(["grpc-status", "0"])));
  await settle();
  assert.deepEqual(answer, { headers: [":status", "200"], trailers: ["grpc-status", "0"], dataBytes: 0 });
  conn.close();
});

test("a PING is answered, the server's SETTINGS acknowledged, and GOAWAY fails the requests open", async () => {
  const socket = new FakeSocket();
  const conn = new H2ClientConnection(socket);
  const errors: string[] = [];
  conn.request(REQUEST, Buffer.from("x"), (err) => errors.push(err?.message ?? "no error"));
  socket.push(Buffer.concat([settingsFrame([]), frame(FrameType.PING, 0, 0, Buffer.from("abcdefgh"))]));
  await settle();
  const frames = socket.frames();
  assert.ok(frames.some((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0));
  assert.ok(frames.some((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0));
  const away = Buffer.alloc(8 + 4);
  away.write("bye!", 8);
  socket.push(frame(FrameType.GOAWAY, 0, 0, away));
  await settle();
  assert.deepEqual(errors, ["the server ended the connection (GOAWAY code 0: bye!)"]);
  conn.request(REQUEST, Buffer.from("x"), (err) => errors.push(err?.message ?? "no error"));
  assert.equal(errors.length, 2, "a request on an ended connection fails at once");
  conn.close();
});

test("request headers longer than a frame go as HEADERS and CONTINUATION frames, END_STREAM on the first and END_HEADERS on the last", async () => {
  const socket = new FakeSocket();
  const conn = new H2ClientConnection(socket);
  const id = conn.request([...REQUEST, "x-big", "v".repeat(40_000)], Buffer.alloc(0), () => undefined);
  await settle();
  const sent = socket.frames().filter((f) => f.streamId === id);
  assert.deepEqual(sent.map((f) => f.type), [FrameType.HEADERS, FrameType.CONTINUATION, FrameType.CONTINUATION]);
  assert.deepEqual(sent.map((f) => f.flags), [Flag.END_STREAM, 0, Flag.END_HEADERS]);
  assert.ok(sent.every((f) => f.length <= 16_384), "no frame longer than the server's default limit");
});
