/**
 * The server side of one HTTP/2 connection (RFC 9113), as the control API's own server needs it:
 * requests are read whole (headers, then the body up to a limit) and handed to a handler, which
 * answers each with headers, a body and trailers. Written for gRPC's unary calls, which is all that
 * server serves (unary-server.ts).
 *
 * Why not Node's http2 module: Node makes every header value it receives an external string, and
 * V8 allocates those in the old generation, so that only a full collection frees them. A leader
 * under load received eight of them per write, and freeing them took about 60% of each full
 * collection's pause (README, Benchmarks). Here headers are decoded in JavaScript (hpack.ts), and
 * a request's objects die young. Node's module also makes each stream a Duplex with its own
 * events, timers and buffers; a unary call needs none of that.
 *
 * What the connection enforces: the client preface and SETTINGS first; frame sizes; flow control
 * in both directions (it grants the client's bytes back as it reads them, and sends no more than
 * the client's windows allow); stream ids that only grow; at most `maxConcurrentStreams` requests
 * open (others are refused with REFUSED_STREAM, which clients retry); header lists and request
 * bodies up to a limit (beyond it the handler is told, to answer with an error). A protocol
 * error ends the connection with GOAWAY, saying what was wrong; it never throws out of the
 * socket's events.
 */
import type { Duplex } from "node:stream";
import { HpackDecoder, HpackError } from "./hpack.ts";
import { HeaderBlocks } from "./header-blocks.ts";
import { StreamTable } from "./stream-table.ts";
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, Flag, FrameReader, FrameType, H2Error, MAX_WINDOW, Setting,
  H2ConnectionError, TurnWriter, frame, goAwayFrame, headerBlockFrames, rstStreamFrame, settingsFrame, windowUpdateFrame, writeDataFrames, writeFrameHeader,
} from "./frames.ts";
import type { FrameSink } from "./frames.ts";

/** What one connection accepts. */
export interface H2Limits {
  /** Requests open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
  /** The decoded size of a request's header list (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 §6.5.2). */
  maxHeaderListSize: number;
  /** A request body's bytes. */
  maxRequestBytes: number;
  /** Each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow: number;
  /** The connection's receive window. */
  connectionWindow: number;
}

/** gRPC's default limit on a message. */
export const GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The prefix of every gRPC message on the wire: a compression flag and a 4-byte length. */
const GRPC_MESSAGE_PREFIX_BYTES = 5;

/** Limits fit for gRPC's unary calls: 4 MB messages (gRPC's default limit) and 16 KB of metadata. */
export const DEFAULT_H2_LIMITS: H2Limits = {
  maxConcurrentStreams: 4096,
  maxHeaderListSize: 16 * 1024,
  maxRequestBytes: GRPC_MAX_MESSAGE_BYTES + GRPC_MESSAGE_PREFIX_BYTES,
  streamWindow: 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
};

/** A header block, received whole, up to this many bytes (encoded) before the connection ends. */
export const MAX_HEADER_BLOCK_BYTES = 256 * 1024;
/** How long a connection ended by this side waits for the client to close before it is cut. */
const CLOSE_GRACE_MS = 1_000;

/** A request whose headers and body have arrived. */
export interface H2Request {
  /** Its stream. */
  readonly streamId: number;
  /** Its header fields as received, flat: name, value, name, value... */
  readonly headers: readonly string[];
  /** Its body, whole. */
  readonly body: Buffer;
}

/** Why a request was refused before it was whole. */
export type H2Refusal = "headers-too-large" | "body-too-large";

/** What a connection tells the code answering its requests. */
export interface H2RequestHandler {
  /** A request arrived whole; answer it with {@link H2ServerConnection.respond} or {@link H2ServerConnection.respondHeadersOnly}. */
  onRequest(conn: H2ServerConnection, req: H2Request): void;
  /** A request beyond the limits: answer it now (its body, if any more comes, is dropped). */
  onRefused(conn: H2ServerConnection, streamId: number, why: H2Refusal): void;
  /** The client cancelled a request not yet answered, or the connection ended under it. */
  onCancel(conn: H2ServerConnection, streamId: number): void;
}

/** One stream's state. */
interface Stream {
  readonly id: number;
  headers: readonly string[];
  /** The body so far: one part (the usual case, kept as received) or several. */
  first: Buffer | undefined;
  rest: Buffer[] | undefined;
  bodyBytes: number;
  refused: boolean;
  remoteClosed: boolean;
  /** What the client sent on it that was not granted back yet (it may send up to the stream window more than that). */
  recvUnacked: number;
  /** What this side may still send on it. */
  sendWindow: number;
  /** An answer's body and trailers waiting for the client's windows. */
  pendingData: Buffer | undefined;
  pendingTrailers: Buffer | undefined;
}

const EMPTY = Buffer.alloc(0);

/** The server side of one HTTP/2 connection over `socket` (already past TLS and ALPN). */
export class H2ServerConnection implements FrameSink {
  private readonly reader: FrameReader;
  private readonly out: TurnWriter;
  private readonly decoder: HpackDecoder;
  private readonly streams = new StreamTable<Stream>();
  private prefaceSeen = 0;
  private settingsSeen = false;
  private lastStreamId = 0;
  private readonly headerBlocks = new HeaderBlocks(MAX_HEADER_BLOCK_BYTES, (streamId, flags, block) => this.onHeaderBlock(streamId, flags, block));
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sendWindow = DEFAULT_WINDOW;
  /** What the client sent on the connection that was not granted back yet. */
  private recvUnacked = 0;
  /** Streams whose answer waits for a window, in the order they started waiting. */
  private blocked: Stream[] = [];
  private goingAway = false;
  private ended = false;

  /** Serves `socket`, handing requests to `handler`. */
  constructor(private readonly socket: Duplex, private readonly handler: H2RequestHandler, private readonly limits: H2Limits = DEFAULT_H2_LIMITS) {
    this.out = new TurnWriter(socket);
    this.reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
    this.decoder = new HpackDecoder();
    this.write(settingsFrame([
      [Setting.MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, limits.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize],
      [Setting.ENABLE_PUSH, 0],
    ]));
    if (limits.connectionWindow > DEFAULT_WINDOW) this.write(windowUpdateFrame(0, limits.connectionWindow - DEFAULT_WINDOW));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.onSocketGone());
    socket.on("close", () => this.onSocketGone());
    socket.on("end", () => this.onSocketGone());
  }

  /**
   * Answers a request: `headerBlock` (HPACK-encoded, see hpack.ts), then `data`, then
   * `trailerBlock`, which ends the stream. Nothing is sent for a stream no longer open.
   */
  respond(streamId: number, headerBlock: Buffer, data: Buffer, trailerBlock: Buffer): void {
    const s = this.streams.get(streamId);
    if (!s || this.ended) return;
    const n = data.length;
    const fitsHeaders = headerBlock.length <= this.peerMaxFrameSize && trailerBlock.length <= this.peerMaxFrameSize;
    if (fitsHeaders && n <= this.peerMaxFrameSize && n <= s.sendWindow && n <= this.sendWindow) {
      // The usual case: the whole answer in one write.
      const out = Buffer.allocUnsafe(27 + headerBlock.length + n + trailerBlock.length);
      let at = writeFrameHeader(out, 0, headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS, streamId);
      at += headerBlock.copy(out, at);
      at = writeFrameHeader(out, at, n, FrameType.DATA, 0, streamId);
      at += data.copy(out, at);
      at = writeFrameHeader(out, at, trailerBlock.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, streamId);
      trailerBlock.copy(out, at);
      s.sendWindow -= n;
      this.sendWindow -= n;
      this.write(out);
      this.finish(s);
      return;
    }
    this.writeHeaderBlock(streamId, headerBlock, false);
    s.pendingData = data;
    s.pendingTrailers = trailerBlock;
    this.sendPending(s);
  }

  /** Answers a request with headers alone, which end the stream (gRPC's "trailers-only" answer). */
  respondHeadersOnly(streamId: number, headerBlock: Buffer): void {
    const s = this.streams.get(streamId);
    if (!s || this.ended) return;
    this.writeHeaderBlock(streamId, headerBlock, true);
    this.finish(s);
  }

  /** Ends the connection: the client is told so (GOAWAY NO_ERROR), requests still open are cancelled, and the socket closes. */
  close(): void {
    this.fail(new H2ConnectionError(H2Error.NO_ERROR, "the server is shutting down"));
  }

  /** FrameSink: a frame longer than this side allows. */
  onOversizedFrame(length: number): void {
    this.fail(new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, `a frame of ${length} bytes is longer than the ${DEFAULT_MAX_FRAME_SIZE} allowed`));
  }

  /** FrameSink: one frame. */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): boolean {
    if (this.ended) return false;
    try {
      this.handleFrame(type, flags, streamId, payload);
    } catch (err) {
      this.fail(err instanceof H2ConnectionError ? err : new H2ConnectionError(H2Error.INTERNAL_ERROR, `internal error: ${(err as Error).message}`));
      return false;
    }
    return !this.ended;
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    if (this.prefaceSeen < CLIENT_PREFACE.length) {
      const take = Math.min(CLIENT_PREFACE.length - this.prefaceSeen, chunk.length);
      if (!chunk.subarray(0, take).equals(CLIENT_PREFACE.subarray(this.prefaceSeen, this.prefaceSeen + take))) {
        this.fail(new H2ConnectionError(H2Error.PROTOCOL_ERROR, "this port speaks HTTP/2 (gRPC) only: the connection did not start with the HTTP/2 preface"));
        return;
      }
      this.prefaceSeen += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.reader.push(chunk, this);
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen && type !== FrameType.SETTINGS) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "the first frame must be SETTINGS");
    if (this.headerBlocks.open && type !== FrameType.CONTINUATION) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "a header block was interrupted by another frame");
    switch (type) {
      case FrameType.DATA: return this.onDataFrame(flags, streamId, payload);
      case FrameType.HEADERS: return this.onHeadersFrame(flags, streamId, payload);
      case FrameType.CONTINUATION: return this.headerBlocks.continuation(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (payload.length !== 5) this.resetStream(streamId, H2Error.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM: return this.onRstStream(streamId, payload);
      case FrameType.SETTINGS: return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE: throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "a client may not send PUSH_PROMISE");
      case FrameType.PING:
        if (streamId !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a PING carries 8 bytes");
        if (!(flags & Flag.ACK)) this.write(frame(FrameType.PING, Flag.ACK, 0, payload));
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a GOAWAY carries at least 8 bytes");
        // The client stops: requests open are answered, then the connection ends.
        this.goingAway = true;
        if (this.streams.size === 0) this.end();
        return;
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      default: return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a SETTINGS acknowledgement carries nothing");
      return;
    }
    if (payload.length % 6 !== 0) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "SETTINGS must be a multiple of 6 bytes");
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.ENABLE_PUSH && value > 1) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH must be 0 or 1");
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, "a stream's window above 2^31-1");
        }
      }
      if (id === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME_SIZE || value > 0xff_ffff) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE outside 16384..16777215");
        this.peerMaxFrameSize = value;
      }
      // The client's HEADER_TABLE_SIZE does not matter: this side never adds to its table
      // (hpack.ts encodes literals without indexing). Unknown settings are ignored.
    }
    this.settingsSeen = true;
    this.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.flushBlocked();
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${streamId}, which a client cannot open`);
    this.headerBlocks.headers(flags, streamId, payload);
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    let headers: string[] = [];
    let tooLarge = false;
    try {
      headers = this.decoder.decode(block, this.limits.maxHeaderListSize);
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      if (!err.tooLarge) throw new H2ConnectionError(H2Error.COMPRESSION_ERROR, `a header block could not be decoded: ${err.message}`);
      tooLarge = true;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const open = this.streams.get(streamId);
    if (open) {
      // Trailers of a request: gRPC clients send none, but they would end the request.
      if (open.remoteClosed) return this.resetStream(streamId, H2Error.STREAM_CLOSED);
      if (!endStream) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "a second header block that does not end the stream");
      open.remoteClosed = true;
      if (!open.refused) this.requestComplete(open);
      return;
    }
    if (streamId <= this.lastStreamId) {
      // A stream this side already ended (refused, reset or answered): frames may still arrive.
      return;
    }
    this.lastStreamId = streamId;
    if (this.goingAway || this.streams.size >= this.limits.maxConcurrentStreams) return this.resetStream(streamId, H2Error.REFUSED_STREAM);
    const s: Stream = {
      id: streamId, headers, first: undefined, rest: undefined, bodyBytes: 0, refused: false, remoteClosed: endStream,
      recvUnacked: 0, sendWindow: this.peerInitialWindow, pendingData: undefined, pendingTrailers: undefined,
    };
    this.streams.set(streamId, s);
    if (tooLarge) {
      s.refused = true;
      this.handler.onRefused(this, streamId, "headers-too-large");
    } else if (endStream) {
      this.requestComplete(s);
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on stream 0");
    if (streamId > this.lastStreamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `DATA on stream ${streamId}, which was never opened`);
    const n = payload.length;
    this.recvUnacked += n;
    if (this.recvUnacked > this.limits.connectionWindow) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, "the client sent more than the connection's window");
    if (this.recvUnacked >= this.limits.connectionWindow / 2) {
      this.write(windowUpdateFrame(0, this.recvUnacked));
      this.recvUnacked = 0;
    }
    const s = this.streams.get(streamId);
    if (!s) return; // ended by this side; the client's frames in flight are dropped
    if (s.remoteClosed) return this.resetStream(streamId, H2Error.STREAM_CLOSED);
    if (s.recvUnacked + n > this.limits.streamWindow) return this.resetStream(streamId, H2Error.FLOW_CONTROL_ERROR);
    let data = payload;
    if (flags & Flag.PADDED) {
      if (n < 1 || payload[0]! >= n) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "DATA padding longer than the frame");
      data = payload.subarray(1, n - payload[0]!);
    }
    if (!s.refused && data.length > 0) {
      s.bodyBytes += data.length;
      if (s.bodyBytes > this.limits.maxRequestBytes) {
        s.refused = true;
        s.first = undefined;
        s.rest = undefined;
        this.handler.onRefused(this, streamId, "body-too-large");
        if (!this.streams.has(streamId)) return;
      } else if (s.first === undefined) s.first = data;
      else (s.rest ??= []).push(data);
    }
    if (flags & Flag.END_STREAM) {
      s.remoteClosed = true;
      if (!s.refused) this.requestComplete(s);
      return;
    }
    s.recvUnacked += n;
    if (s.recvUnacked >= this.limits.streamWindow / 2) {
      this.write(windowUpdateFrame(streamId, s.recvUnacked));
      s.recvUnacked = 0;
    }
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (payload.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a RST_STREAM carries 4 bytes");
    if (streamId > this.lastStreamId) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, `RST_STREAM on stream ${streamId}, which was never opened`);
    if (!this.streams.has(streamId)) return;
    this.forget(streamId);
    this.handler.onCancel(this, streamId);
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(H2Error.FRAME_SIZE_ERROR, "a WINDOW_UPDATE carries 4 bytes");
    const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
    if (streamId === 0) {
      if (increment === 0) throw new H2ConnectionError(H2Error.PROTOCOL_ERROR, "a WINDOW_UPDATE of 0");
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new H2ConnectionError(H2Error.FLOW_CONTROL_ERROR, "the connection's window above 2^31-1");
      this.flushBlocked();
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) return;
    if (increment === 0) return this.resetStream(streamId, H2Error.PROTOCOL_ERROR);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) return this.resetStream(streamId, H2Error.FLOW_CONTROL_ERROR);
    if (s.pendingData) this.sendPending(s);
  }

  private requestComplete(s: Stream): void {
    const body = s.rest ? Buffer.concat([s.first!, ...s.rest]) : (s.first ?? EMPTY);
    s.first = undefined;
    s.rest = undefined;
    this.handler.onRequest(this, { streamId: s.id, headers: s.headers, body });
  }

  /** Sends what the windows allow of a stream's waiting answer; the trailers once all of it went. */
  private sendPending(s: Stream): void {
    const sent = writeDataFrames(this.out, s.id, s.pendingData!, Math.min(s.sendWindow, this.sendWindow), this.peerMaxFrameSize, false);
    s.sendWindow -= sent;
    this.sendWindow -= sent;
    const data = s.pendingData!.subarray(sent);
    s.pendingData = data;
    if (data.length > 0) {
      if (!this.blocked.includes(s)) this.blocked.push(s);
      return;
    }
    this.writeHeaderBlock(s.id, s.pendingTrailers!, true);
    this.finish(s);
  }

  private flushBlocked(): void {
    const waiting = this.blocked;
    this.blocked = [];
    for (const s of waiting) if (this.streams.get(s.id) === s && s.pendingData) this.sendPending(s);
  }

  /** Writes a header block as HEADERS and, when longer than a frame, CONTINUATION frames. */
  private writeHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    for (const f of headerBlockFrames(streamId, block, endStream, this.peerMaxFrameSize)) this.write(f);
  }

  /** The answer to `s` ended its stream: an unfinished request is stopped (RST_STREAM NO_ERROR, RFC 9113 §8.1). */
  private finish(s: Stream): void {
    if (!s.remoteClosed) this.write(rstStreamFrame(s.id, H2Error.NO_ERROR));
    this.forget(s.id);
  }

  private resetStream(streamId: number, code: number): void {
    this.write(rstStreamFrame(streamId, code));
    if (this.streams.has(streamId)) {
      this.forget(streamId);
      this.handler.onCancel(this, streamId);
    }
  }

  private forget(streamId: number): void {
    this.streams.delete(streamId);
    if (this.goingAway && this.streams.size === 0) this.end();
  }

  private write(bytes: Buffer): void {
    if (!this.ended) this.out.write(bytes);
  }

  /** Ends the connection with GOAWAY; requests not answered are cancelled. */
  private fail(err: H2ConnectionError): void {
    if (this.ended) return;
    this.write(goAwayFrame(this.lastStreamId, err.code, err.message));
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelAll();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private onSocketGone(): void {
    if (!this.ended) {
      this.ended = true;
      this.cancelAll();
    }
    this.socket.destroy();
  }

  private cancelAll(): void {
    const open = [...this.streams.keys()];
    this.streams.clear();
    this.blocked = [];
    for (const id of open) this.handler.onCancel(this, id);
  }
}
