/**
 * The load generator's gRPC client: unary calls over one HTTP/2 connection (./h2-client.ts; until
 * 2026-12-08 Node's own) with mutual TLS, each call a request with one message and an answer
 * whose status is checked and whose message is not decoded. It sends the headers grpc-js sends (content type,
 * `te`, user agent, accepted encodings, and the deadline as `grpc-timeout`), so the servers
 * compared do the same work for a call as they would for grpc-js's.
 *
 * Both systems compared get writes from this client, in the same process, on the same two cores
 * as their servers. grpc-js's client cost about 100 µs of CPU per write there (its channel, call,
 * interceptor, filter and metadata objects, and their collections; test/bench/HISTORY.md), one on
 * Node's http2 module about 50–75 µs with full collections about once a second, this one 8–20 µs
 * (README, Benchmarks): the servers get the rest of the two cores.
 */
import * as tls from "node:tls";
import { H2ClientConnection } from "./h2-client.ts";
import { splitHostPort } from "../../deploy/daemon/flags.ts";

/** What grpc-js sends as its user agent is its name and version; this client names itself. */
const USER_AGENT = "shoal-bench";
/** The gRPC status of a call that succeeded. */
const GRPC_OK = "0";

/** An open connection for unary calls. */
export interface UnaryConnection {
  /**
   * Calls `path` (`/package.Service/Method`) with the encoded request `message`. Resolves when
   * the server answers with status OK; rejects with the status and its message when it answers
   * otherwise, when the stream ends without a status, or after the call's timeout.
   */
  call(path: string, message: Uint8Array): Promise<void>;
  /** Closes the connection; calls still open end with an error. */
  close(): void;
}

/** Where and how to connect. */
export interface UnaryConnectionOptions {
  /** `host:port` of the server. */
  address: string;
  /** TLS options: the CA to trust, the client's certificate and key, the server name and its check. */
  tls: tls.ConnectionOptions;
  /** How long a call may take, sent as its deadline (`grpc-timeout`) and enforced here. */
  timeoutMs: number;
}

/** Splits `host:port`, where the host may be an IPv6 address in brackets. */
function splitAddress(address: string): { host: string; port: number } {
  const where = splitHostPort(address);
  if (!where || where.port === 0) throw new Error(`address "${address}" is not host:port with a port from 1 to 65535`);
  return where;
}

/** One gRPC message as it travels: a byte saying it is not compressed, its length, the message. */
function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** The value of header `name` in `fields` (flat: name, value...), or undefined. */
function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Opens a connection to `o.address` and waits until TLS and HTTP/2 are set up. */
export async function connectUnary(o: UnaryConnectionOptions): Promise<UnaryConnection> {
  const { host, port } = splitAddress(o.address);
  const socket = tls.connect({ ...o.tls, host, port, ALPNProtocols: ["h2"] });
  socket.setNoDelay(true); // as grpc-js does: answers and requests are small
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", (err) => reject(new Error(`cannot connect to ${o.address}: ${err.message}`, { cause: err })));
  });
  if (socket.alpnProtocol !== "h2") {
    socket.destroy();
    throw new Error(`cannot connect to ${o.address}: it does not speak HTTP/2 (ALPN gave ${String(socket.alpnProtocol)})`);
  }
  const conn = new H2ClientConnection(socket);
  // In the order Node's client sends them for grpc-js: pseudo-headers first.
  const before = [":method", "POST", ":authority", o.address, ":scheme", "https", ":path"];
  const after = [
    "content-type", "application/grpc", "te", "trailers", "user-agent", USER_AGENT,
    "grpc-accept-encoding", "identity,deflate,gzip", "accept-encoding", "identity", "grpc-timeout", `${o.timeoutMs}m`,
  ];
  return {
    call(path, message) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          conn.cancel(id);
          reject(new Error(`${path}: no answer within ${o.timeoutMs} ms`));
        }, o.timeoutMs);
        const id = conn.request([...before, path, ...after], grpcFrame(message), (err, answer) => {
          clearTimeout(timer);
          if (err || !answer) return reject(new Error(`${path}: ${err?.message ?? "no answer"}`, { cause: err }));
          const httpStatus = field(answer.headers, ":status");
          // A "trailers-only" answer carries the status in its headers.
          const status = field(answer.trailers, "grpc-status") ?? field(answer.headers, "grpc-status");
          if (httpStatus !== "200") reject(new Error(`${path}: HTTP status ${httpStatus}`));
          else if (status === GRPC_OK) resolve();
          else if (status === undefined) reject(new Error(`${path}: the call ended without a gRPC status`));
          else {
            const text = field(answer.trailers, "grpc-message") ?? field(answer.headers, "grpc-message") ?? "";
            reject(new Error(`${path}: gRPC status ${status}: ${decodeURIComponent(text)}`));
          }
        });
      });
    },
    close() {
      conn.close();
    },
  };
}
