/**
 * gRPC unary calls (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) served on
 * this project's own HTTP/2 connections (connection.ts), to the same handlers grpc-js calls: a
 * handler gets a call with the request, the caller's metadata, its path and its TLS peer, and
 * answers through a callback, as with grpc-js's `handleUnaryCall`.
 *
 * The daemon serves operators' connections (the CLI, CI runners) here and every other
 * connection with grpc-js (deploy/daemon/cluster-listener.ts): operators make only unary calls,
 * and a leader under a stream of writes spends less time and memory per call here (README,
 * Benchmarks). Requests may be compressed with gzip or deflate, as grpc-js's server accepts
 * (answers are not compressed); another encoding is refused with UNIMPLEMENTED. A deadline
 * (`grpc-timeout`) ends a call with
 * DEADLINE_EXCEEDED, a request or metadata beyond the limits with RESOURCE_EXHAUSTED.
 */
import type { TLSSocket } from "node:tls";
import { gunzipSync, inflateSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import type { handleUnaryCall, ServerUnaryCall, ServiceError } from "@grpc/grpc-js";
import { GRPC_MAX_MESSAGE_BYTES, H2ServerConnection } from "./connection.ts";
import type { H2Refusal, H2Request, H2RequestHandler } from "./connection.ts";
import { encodeHeaders } from "./hpack.ts";
import { StreamTable } from "./stream-table.ts";

/** One unary method: its codecs and its handler. */
export interface UnaryMethod {
  /** Decodes a request message; throws when the bytes are not one. */
  requestDeserialize(bytes: Buffer): unknown;
  /** Encodes a response message. */
  responseSerialize(value: unknown): Buffer;
  /** Answers a call, as grpc-js's handlers do. */
  handler: handleUnaryCall<unknown, unknown>;
}

/** The method served at a path (`/package.Service/Method`), or undefined when there is none. */
export type MethodLookup = (path: string) => UnaryMethod | undefined;

/** The headers that open every answer, and the trailers that end a successful one. */
const OK_HEADERS = encodeHeaders([":status", "200", "content-type", "application/grpc"]);
const OK_TRAILERS = encodeHeaders(["grpc-status", "0"]);
/** The answer to a request that is not gRPC. */
const NOT_GRPC = encodeHeaders([":status", "415"]);
/** Headers that are the protocol's, not the caller's metadata (besides those readHeaders reads). */
const PROTOCOL_HEADERS = new Set(["te", "user-agent", "grpc-accept-encoding", "accept-encoding", "host"]);
/** A status message longer than this is cut, so that trailers stay small. */
const MAX_STATUS_MESSAGE = 4096;
/** The limit as the refusals say it. */
const MAX_MESSAGE_TEXT = `${GRPC_MAX_MESSAGE_BYTES / (1024 * 1024)} MB`;
/** Decompressors of the encodings a request may use (`grpc-encoding`), bounded by the largest message. */
const DECOMPRESS: Record<string, (bytes: Buffer) => Buffer> = {
  gzip: (bytes) => gunzipSync(bytes, { maxOutputLength: GRPC_MAX_MESSAGE_BYTES }),
  deflate: (bytes) => inflateSync(bytes, { maxOutputLength: GRPC_MAX_MESSAGE_BYTES }),
};
/** `grpc-timeout`: up to 8 digits and a unit (hours to nanoseconds). */
const TIMEOUT_PATTERN = /^(\d{1,8})([HMSmun])$/;
/** What grpc-js's calls say of the caller's TLS (grpc-js does not export the type). */
type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** Bytes of the status message as gRPC wants them: printable ASCII but `%` as is, the rest percent-encoded (of UTF-8). */
export function percentEncode(message: string): string {
  const text = message.length > MAX_STATUS_MESSAGE ? `${message.slice(0, MAX_STATUS_MESSAGE)}...` : message;
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The call a handler gets: what grpc-js's ServerUnaryCall offers that handlers here use. */
class UnaryCall {
  /** Set when the caller cancelled, the deadline passed or the connection ended. */
  cancelled = false;
  /** The deadline's timer, when the call has one. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly request: unknown,
    readonly metadata: grpc.Metadata,
    private readonly path: string,
    /** The connection's TLS socket: the Authorizer reads the caller's certificate from it. */
    readonly tlsSocket: TLSSocket,
    private readonly peer: ConnectionPeer,
  ) {}

  getPath(): string {
    return this.path;
  }

  getPeer(): string {
    return this.peer.address;
  }

  getAuthContext(): AuthContext {
    return this.peer.authContext();
  }
}

/** Who is at the other end of a connection; read from the socket once. */
class ConnectionPeer {
  private auth: AuthContext | undefined;
  readonly address: string;

  constructor(private readonly socket: TLSSocket) {
    this.address = `${socket.remoteAddress ?? "unknown"}:${socket.remotePort ?? 0}`;
  }

  /** As grpc-js gives it: the certificate only when the TLS handshake verified it. */
  authContext(): AuthContext {
    this.auth ??= this.socket.authorized
      ? { transportSecurityType: "ssl", sslPeerCertificate: this.socket.getPeerCertificate() }
      : { transportSecurityType: "ssl" };
    return this.auth;
  }
}

/** What a request's headers say, and the caller's metadata (the headers that are not the protocol's). */
interface RequestHead {
  path: string;
  contentType: string;
  timeout: string;
  encoding: string;
  metadata: grpc.Metadata | undefined;
}

/** Reads a request's header fields (flat: name, value...). Metadata that grpc-js would refuse (a key it deems illegal) is left out, as grpc-js's server does. */
function readHeaders(h: readonly string[]): RequestHead {
  const head: RequestHead = { path: "", contentType: "", timeout: "", encoding: "", metadata: undefined };
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    const value = h[i + 1]!;
    if (name === ":path") head.path = value;
    else if (name === "content-type") head.contentType = value;
    else if (name === "grpc-timeout") head.timeout = value;
    else if (name === "grpc-encoding") head.encoding = value;
    else if (name.charCodeAt(0) !== 0x3a && !PROTOCOL_HEADERS.has(name)) {
      head.metadata ??= new grpc.Metadata();
      try {
        head.metadata.add(name, name.endsWith("-bin") ? Buffer.from(value, "base64") : value);
      } catch {
        // an illegal key: not passed on
      }
    }
  }
  return head;
}

/** A request's one message, decompressed and decoded; or the status that refuses it, and why. */
function decodeRequest(method: UnaryMethod, path: string, encoding: string, body: Buffer): { request: unknown } | { status: grpc.status; message: string } {
  const decompress = encoding && encoding !== "identity" ? DECOMPRESS[encoding] : undefined;
  if (encoding && encoding !== "identity" && !decompress) {
    return { status: grpc.status.UNIMPLEMENTED, message: `messages compressed with ${encoding} are not supported: send them with gzip, deflate or uncompressed (identity)` };
  }
  if (body.length < 5) return { status: grpc.status.INTERNAL, message: `${path} needs one request message; the request carried none` };
  const compressed = body[0];
  if (compressed !== 0 && compressed !== 1) return { status: grpc.status.INTERNAL, message: `${path}: the message's compressed flag is ${compressed}; only 0 and 1 exist` };
  if (compressed === 1 && !decompress) return { status: grpc.status.INTERNAL, message: `${path}: a compressed message without grpc-encoding saying how` };
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) {
    return { status: grpc.status.INTERNAL, message: `${path} takes one request message of ${length} bytes; the request carried ${body.length - 5}` };
  }
  let message = body.subarray(5);
  if (compressed === 1) {
    try {
      message = decompress!(message);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
        ? { status: grpc.status.RESOURCE_EXHAUSTED, message: `${path}: the request message is larger than the server accepts (${MAX_MESSAGE_TEXT}) once decompressed` }
        : { status: grpc.status.INTERNAL, message: `${path}: the request message could not be decompressed (${encoding}): ${(err as Error).message}` };
    }
  }
  try {
    return { request: method.requestDeserialize(message) };
  } catch (err) {
    return { status: grpc.status.INTERNAL, message: `${path}: the request message could not be decoded: ${(err as Error).message}` };
  }
}

/** The calls of one connection. */
class ConnectionCalls implements H2RequestHandler {
  private readonly calls = new StreamTable<UnaryCall>();
  private readonly peer: ConnectionPeer;

  constructor(private readonly lookup: MethodLookup, private readonly socket: TLSSocket) {
    this.peer = new ConnectionPeer(socket);
  }

  onRequest(conn: H2ServerConnection, req: H2Request): void {
    const id = req.streamId;
    const head = readHeaders(req.headers);
    if (!head.contentType.startsWith("application/grpc")) return conn.respondHeadersOnly(id, NOT_GRPC);
    const path = head.path;
    const method = this.lookup(path);
    if (!method) return this.fail(conn, id, grpc.status.UNIMPLEMENTED, `the server does not implement the method ${path}`);
    const decoded = decodeRequest(method, path, head.encoding, req.body);
    if ("status" in decoded) return this.fail(conn, id, decoded.status, decoded.message);
    const call = new UnaryCall(decoded.request, head.metadata ?? new grpc.Metadata(), path, this.socket, this.peer);
    if (head.timeout) {
      const match = TIMEOUT_PATTERN.exec(head.timeout);
      if (!match) return this.fail(conn, id, grpc.status.INTERNAL, `invalid grpc-timeout ${JSON.stringify(head.timeout)}: want up to 8 digits and a unit of H, M, S, m, u or n`);
      call.timer = setTimeout(() => {
        this.end(id, call);
        this.fail(conn, id, grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded");
      }, Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!);
    }
    this.calls.set(id, call);
    const answer = (err: Partial<ServiceError> | null, value?: unknown): void => {
      if (call.cancelled) return;
      this.end(id, call);
      if (err) return this.fail(conn, id, err.code ?? grpc.status.UNKNOWN, err.details || err.message || "unknown error", err.metadata);
      let message: Buffer;
      try {
        message = method.responseSerialize(value);
      } catch (e) {
        return this.fail(conn, id, grpc.status.INTERNAL, `${path}: the response could not be encoded: ${(e as Error).message}`);
      }
      const data = Buffer.allocUnsafe(5 + message.length);
      data[0] = 0;
      data.writeUInt32BE(message.length, 1);
      message.copy(data, 5);
      conn.respond(id, OK_HEADERS, data, OK_TRAILERS);
    };
    try {
      method.handler(call as unknown as ServerUnaryCall<unknown, unknown>, answer);
    } catch (err) {
      answer({ code: grpc.status.UNKNOWN, details: `${path} failed: ${(err as Error).message}` });
    }
  }

  onRefused(conn: H2ServerConnection, streamId: number, why: H2Refusal): void {
    const what = why === "headers-too-large" ? "the request's metadata is larger than the server accepts" : `the request message is larger than the server accepts (${MAX_MESSAGE_TEXT})`;
    this.fail(conn, streamId, grpc.status.RESOURCE_EXHAUSTED, what);
  }

  onCancel(_conn: H2ServerConnection, streamId: number): void {
    const call = this.calls.get(streamId);
    if (call) this.end(streamId, call);
  }

  /** The call is over: its handler's answer, if any comes, is dropped. */
  private end(id: number, call: UnaryCall): void {
    call.cancelled = true;
    if (call.timer) clearTimeout(call.timer);
    this.calls.delete(id);
  }

  /** Answers with a status (and the error's metadata) alone. */
  private fail(conn: H2ServerConnection, id: number, code: number, message: string, metadata?: grpc.Metadata): void {
    const fields = [":status", "200", "content-type", "application/grpc", "grpc-status", String(code), "grpc-message", percentEncode(message)];
    for (const [key, values] of Object.entries(metadata?.toHttp2Headers() ?? {})) {
      for (const v of Array.isArray(values) ? values : [values]) if (v !== undefined) fields.push(key, String(v));
    }
    conn.respondHeadersOnly(id, encodeHeaders(fields));
  }
}

/** Serves gRPC unary calls on TLS connections handed to it. */
export class UnaryServer {
  private readonly connections = new Set<H2ServerConnection>();

  /** A server answering the methods `lookup` finds. */
  constructor(private readonly lookup: MethodLookup) {}

  /** Serves `socket`, a TLS connection that negotiated HTTP/2 ("h2"), until it closes. */
  serve(socket: TLSSocket): void {
    const conn = new H2ServerConnection(socket, new ConnectionCalls(this.lookup, socket));
    this.connections.add(conn);
    socket.once("close", () => this.connections.delete(conn));
  }

  /** Ends every connection (GOAWAY); calls not answered are dropped. */
  close(): void {
    for (const conn of this.connections) conn.close();
    this.connections.clear();
  }
}
