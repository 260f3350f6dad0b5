/**
 * The client side of one HTTP/2 connection, as the load generator needs it: requests with a body
 * sent whole, answers read whole (headers, data, trailers). Built on the control API server's
 * frames and HPACK (manager/controlapi/h2), with the request headers indexed as nghttp2 indexes
 * them (Node's and grpc-js's clients), so that the servers compared decode what they would decode
 * for those clients.
 *
 * Why not Node's http2 client: it makes every header value it receives an external string in V8's
 * old generation, and each call's objects lived through young collections; the load generator
 * then paused for full collections of 11–23 ms about once a second at shoal's rate, and those
 * pauses were most of the stalls that both systems' writes showed (README, Benchmarks).
 */
import type { Duplex } from "node:stream";
import {
  CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, Flag, FrameReader, FrameType, H2Error, MAX_WINDOW, Setting,
  TurnWriter, frame, headerBlockFrames, rstStreamFrame, settingsFrame, windowUpdateFrame, writeDataFrames,
} from "../../manager/controlapi/h2/frames.ts";
import { DEFAULT_H2_LIMITS, MAX_HEADER_BLOCK_BYTES } from "../../manager/controlapi/h2/connection.ts";
import { HeaderBlocks } from "../../manager/controlapi/h2/header-blocks.ts";
import type { FrameSink } from "../../manager/controlapi/h2/frames.ts";
import { HpackDecoder, HpackEncoder } from "../../manager/controlapi/h2/hpack.ts";
import { StreamTable } from "../../manager/controlapi/h2/stream-table.ts";

/** What this side may receive, per stream and on the connection, before it grants more: as much as shoal's server. */
const STREAM_WINDOW = DEFAULT_H2_LIMITS.streamWindow;
const CONNECTION_WINDOW = DEFAULT_H2_LIMITS.connectionWindow;
/** The largest header list accepted in an answer. */
const MAX_HEADER_LIST = 64 * 1024;

/** An answer: its header fields, its trailers' (flat: name, value...), and its data's length. */
export interface H2Answer {
  headers: readonly string[];
  trailers: readonly string[];
  dataBytes: number;
}

/** Called once per request: with the answer, or with why there is none. */
export type H2Callback = (err: Error | undefined, answer?: H2Answer) => void;

/** One request's state. */
interface ClientStream {
  readonly id: number;
  readonly callback: H2Callback;
  headers: readonly string[] | undefined;
  trailers: readonly string[];
  dataBytes: number;
  /** What this side may still send on it, and what of the request waits for that. */
  sendWindow: number;
  pending: Buffer | undefined;
  recvUnacked: number;
}

/** The client side of one HTTP/2 connection over `socket` (TLS past ALPN "h2"; any Duplex in tests). */
export class H2ClientConnection implements FrameSink {
  private readonly reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  private readonly out: TurnWriter;
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private readonly streams = new StreamTable<ClientStream>();
  private nextId = 1;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private peerInitialWindow = DEFAULT_WINDOW;
  private sendWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  private blocked: ClientStream[] = [];
  private readonly headerBlocks = new HeaderBlocks(MAX_HEADER_BLOCK_BYTES, (streamId, flags, block) => this.onHeaderBlock(streamId, flags, block));
  /** Why the connection is over, once it is. */
  private ended: Error | undefined;

  /** Starts the connection: the preface, this side's settings and connection window. */
  constructor(private readonly socket: Duplex) {
    this.out = new TurnWriter(socket);
    this.write(CLIENT_PREFACE);
    this.write(settingsFrame([[Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW]]));
    this.write(windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk, this));
    socket.on("error", (err) => this.end(new Error(`the connection failed: ${err.message}`, { cause: err })));
    socket.on("close", () => this.end(new Error("the connection closed")));
  }

  /** Sends a request of `headers` (flat: name, value...) and `body`; `callback` gets its answer. Returns its stream id. */
  request(headers: readonly string[], body: Buffer, callback: H2Callback): number {
    if (this.ended) {
      callback(this.ended);
      return 0;
    }
    const id = this.nextId;
    this.nextId += 2;
    const s: ClientStream = { id, callback, headers: undefined, trailers: [], dataBytes: 0, sendWindow: this.peerInitialWindow, pending: body, recvUnacked: 0 };
    this.streams.set(id, s);
    for (const f of headerBlockFrames(id, this.encoder.encode(headers), body.length === 0, this.peerMaxFrameSize)) this.write(f);
    if (body.length > 0) this.sendPending(s);
    return id;
  }

  /** Cancels the request on stream `id` (RST_STREAM CANCEL); its callback is not called. */
  cancel(id: number): void {
    if (!this.streams.has(id)) return;
    this.streams.delete(id);
    this.write(rstStreamFrame(id, H2Error.CANCEL));
  }

  /** Closes the connection; requests open fail. */
  close(): void {
    this.end(new Error("the connection was closed"));
    this.socket.destroy();
  }

  /** FrameSink: an answer's frame longer than this side allows. */
  onOversizedFrame(length: number): void {
    this.end(new Error(`the server sent a frame of ${length} bytes, more than the ${DEFAULT_MAX_FRAME_SIZE} allowed`));
    this.socket.destroy();
  }

  /** FrameSink: one frame from the server. */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): boolean {
    if (this.ended) return false;
    try {
      this.handleFrame(type, flags, streamId, payload);
    } catch (err) {
      this.end(new Error(`the server broke the protocol: ${(err as Error).message}`, { cause: err }));
      this.socket.destroy();
    }
    return !this.ended;
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlocks.open && type !== FrameType.CONTINUATION) throw new Error("a header block was interrupted");
    switch (type) {
      case FrameType.SETTINGS: return this.onSettings(flags, payload);
      case FrameType.PING:
        if (!(flags & Flag.ACK)) this.write(frame(FrameType.PING, Flag.ACK, 0, payload));
        return;
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      case FrameType.GOAWAY: {
        const code = payload.length >= 8 ? payload.readUInt32BE(4) : H2Error.PROTOCOL_ERROR;
        this.end(new Error(`the server ended the connection (GOAWAY code ${code}${payload.length > 8 ? `: ${payload.subarray(8).toString()}` : ""})`));
        this.socket.end();
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.streams.get(streamId);
        if (!s) return;
        this.streams.delete(streamId);
        s.callback(new Error(`the server reset the stream (code ${payload.length >= 4 ? payload.readUInt32BE(0) : "?"})`));
        return;
      }
      case FrameType.HEADERS: return this.headerBlocks.headers(flags, streamId, payload);
      case FrameType.CONTINUATION: return this.headerBlocks.continuation(flags, streamId, payload);
      case FrameType.DATA: return this.onDataFrame(flags, streamId, payload);
      default: return; // PRIORITY, PUSH_PROMISE (push is off) and unknown types carry nothing for us
    }
  }

  private onSettings(flags: number, payload: Buffer): void {
    if (flags & Flag.ACK) return;
    for (let at = 0; at + 6 <= payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        this.peerMaxFrameSize = value;
      }
    }
    this.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
    this.flushBlocked();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (streamId === 0) this.sendWindow += increment;
    else {
      const s = this.streams.get(streamId);
      if (s) s.sendWindow += increment;
    }
    this.flushBlocked();
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    // Decoded whatever the stream, to keep the decoder's table in step with the server's.
    const fields = this.decoder.decode(block, MAX_HEADER_LIST);
    const s = this.streams.get(streamId);
    if (!s) return;
    if (s.headers === undefined) s.headers = fields;
    else s.trailers = fields;
    if (flags & Flag.END_STREAM) this.complete(s);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    this.recvUnacked += payload.length;
    if (this.recvUnacked >= CONNECTION_WINDOW / 2) {
      this.write(windowUpdateFrame(0, this.recvUnacked));
      this.recvUnacked = 0;
    }
    const s = this.streams.get(streamId);
    if (!s) return;
    s.dataBytes += payload.length;
    if (flags & Flag.END_STREAM) return this.complete(s);
    s.recvUnacked += payload.length;
    if (s.recvUnacked >= STREAM_WINDOW / 2) {
      this.write(windowUpdateFrame(streamId, s.recvUnacked));
      s.recvUnacked = 0;
    }
  }

  private complete(s: ClientStream): void {
    this.streams.delete(s.id);
    s.callback(undefined, { headers: s.headers ?? [], trailers: s.trailers, dataBytes: s.dataBytes });
  }

  /** Sends what the server's windows allow of a request's body, the last frame ending the stream. */
  private sendPending(s: ClientStream): void {
    const body = s.pending!;
    const sent = writeDataFrames(this.out, s.id, body, Math.min(s.sendWindow, this.sendWindow), this.peerMaxFrameSize, true);
    s.sendWindow -= sent;
    this.sendWindow -= sent;
    s.pending = sent < body.length ? body.subarray(sent) : undefined;
    if (s.pending && !this.blocked.includes(s)) this.blocked.push(s);
  }

  private flushBlocked(): void {
    const waiting = this.blocked;
    this.blocked = [];
    for (const s of waiting) if (this.streams.get(s.id) === s && s.pending) this.sendPending(s);
  }

  private write(bytes: Buffer): void {
    if (!this.ended) this.out.write(bytes);
  }

  /** The connection is over: every request open fails with `why`. */
  private end(why: Error): void {
    if (this.ended) return;
    this.ended = why;
    const open = [...this.streams.values()];
    this.streams.clear();
    this.blocked = [];
    for (const s of open) s.callback(why);
  }
}
