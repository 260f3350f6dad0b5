/**
 * HTTP/2 frames (RFC 9113 §4 and §6) for the control API's own server (unary-server.ts): the protocol's
 * constants, a reader that cuts a connection's bytes into frames, and writers of the frames a
 * server sends.
 */

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4,
  PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6); ACK and END_STREAM share a bit, on different frame types. */
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export const H2Error = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9, ENHANCE_YOUR_CALM: 0xb,
} as const;

/** Settings identifiers (RFC 9113 §6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1, ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3, INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** What every client sends first (RFC 9113 §3.4). */
export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** The frame size every endpoint must accept, and the default limit (RFC 9113 §4.2). */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** The largest flow-control window (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 2 ** 31 - 1;
/** Both directions' windows before any SETTINGS or WINDOW_UPDATE (RFC 9113 §6.9.2). */
export const DEFAULT_WINDOW = 65_535;

import type { Duplex } from "node:stream";

const FRAME_HEADER_BYTES = 9;
const EMPTY = Buffer.alloc(0);

/** Receives the frames a {@link FrameReader} cuts out. */
export interface FrameSink {
  /**
   * One whole frame. `payload` is a view of the bytes received, which are never reused: it may be
   * kept (it then holds the chunk it came in). Returns false to stop reading (the connection is
   * closing).
   */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): boolean;
  /** A frame announced as longer than the limit: the connection must end (FRAME_SIZE_ERROR). */
  onOversizedFrame(length: number): void;
}

/** Cuts a connection's bytes, pushed in chunks as they arrive, into frames. */
export class FrameReader {
  private pending: Buffer = EMPTY;

  /** A reader that refuses frames longer than `maxFrameSize`, the SETTINGS_MAX_FRAME_SIZE this side advertised. */
  constructor(private readonly maxFrameSize: number) {}

  /** Adds `chunk` and hands every frame now complete to `sink`, in order. */
  push(chunk: Buffer, sink: FrameSink): void {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (buf.length - offset >= FRAME_HEADER_BYTES) {
      const length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
      if (length > this.maxFrameSize) {
        this.pending = EMPTY;
        sink.onOversizedFrame(length);
        return;
      }
      const end = offset + FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      const streamId = buf.readUInt32BE(offset + 5) & 0x7fff_ffff;
      const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
      offset = end;
      if (!sink.onFrame(type, flags, streamId, payload)) {
        this.pending = EMPTY;
        return;
      }
    }
    // What is left is the start of a frame: kept as a copy, so that the chunk itself is not held.
    buf = buf.subarray(offset);
    this.pending = buf.length === 0 ? EMPTY : Buffer.from(buf);
  }
}

/**
 * A header block on `streamId` as frames (RFC 9113 §4.3): a HEADERS frame and, when the block is
 * longer than `maxFrameSize`, CONTINUATION frames; END_STREAM on the HEADERS frame when `endStream`.
 */
export function headerBlockFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  let type: number = FrameType.HEADERS;
  do {
    const part = block.subarray(at, at + maxFrameSize);
    at += part.length;
    const flags = (at >= block.length ? Flag.END_HEADERS : 0) | (type === FrameType.HEADERS && endStream ? Flag.END_STREAM : 0);
    frames.push(frame(type, flags, streamId, part));
    type = FrameType.CONTINUATION;
  } while (at < block.length);
  return frames;
}

/** Writes a frame header into `out` at `at`; returns the offset after it. */
export function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): number {
  out[at] = (length >>> 16) & 0xff;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId & 0x7fff_ffff, at + 5);
  return at + FRAME_HEADER_BYTES;
}

/** One frame with `payload`. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A SETTINGS frame carrying `settings` (identifier, value pairs). */
export function settingsFrame(settings: readonly (readonly [number, number])[]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

/** A WINDOW_UPDATE frame granting `increment` more bytes on `streamId` (0: the connection). */
export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

/** A RST_STREAM frame ending `streamId` with `code`. */
export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

/** A GOAWAY frame: streams above `lastStreamId` were not processed; `debug` says why, for people. */
export function goAwayFrame(lastStreamId: number, code: number, debug: string): Buffer {
  const text = Buffer.from(debug, "utf8");
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  text.copy(payload, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

/**
 * Writes frames to a socket so that everything written in one turn of the event loop leaves in
 * one go: the socket is corked at the first write of a turn and uncorked on the next tick.
 */
export class TurnWriter {
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** A writer to `socket`. */
  constructor(private readonly socket: Duplex) {}

  /** Writes `bytes`, corking the socket until the end of this turn. */
  write(bytes: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(bytes);
  }
}

/** A connection error (RFC 9113 §5.4.1): the GOAWAY code, and what to tell the peer. */
export class H2ConnectionError extends Error {
  /** `code`: an {@link H2Error}. */
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * Writes as much of `data` as `room` bytes of window (the smaller of the stream's and the
 * connection's) and frames of `maxFrameSize` allow, as DATA frames on `streamId`; the last one
 * ends the stream when `endStream` and all of `data` went. Returns how many bytes went.
 */
export function writeDataFrames(out: TurnWriter, streamId: number, data: Buffer, room: number, maxFrameSize: number, endStream: boolean): number {
  let sent = 0;
  while (sent < data.length) {
    const n = Math.min(data.length - sent, maxFrameSize, room - sent);
    if (n <= 0) break;
    const last = sent + n === data.length;
    out.write(frame(FrameType.DATA, last && endStream ? Flag.END_STREAM : 0, streamId, data.subarray(sent, sent + n)));
    sent += n;
  }
  return sent;
}
