/**
 * The load generator's gRPC client: unary calls over one HTTP/2 connection of Node's own
 * (node:http2) with mutual TLS, each call a request with one message and an answer whose status
 * is checked and whose message is not decoded. It sends the headers grpc-js sends (content type,
 * `te`, user agent, accepted encodings, and the deadline as `grpc-timeout`), so the servers
 * compared do the same work for a call as they would for grpc-js's.
 *
 * Both systems compared get writes from this client, in the same process, on the same two cores
 * as their servers. grpc-js's client cost about 100 µs of CPU per write there (its channel, call,
 * interceptor, filter and metadata objects, and their collections); this one about half of it,
 * which the servers get instead (test/bench/HISTORY.md).
 */
import * as http2 from "node:http2";
import * as tls from "node:tls";

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
  const colon = address.lastIndexOf(":");
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`address "${address}" is not host:port with a port from 1 to 65535`);
  }
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

/** One gRPC message as it travels: a byte saying it is not compressed, its length, the message. */
function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** Opens a connection to `o.address` and waits until TLS and HTTP/2 are set up. */
export async function connectUnary(o: UnaryConnectionOptions): Promise<UnaryConnection> {
  const { host, port } = splitAddress(o.address);
  const session = http2.connect(`https://${o.address}`, {
    createConnection: () => {
      const socket = tls.connect({ ...o.tls, host, port, ALPNProtocols: ["h2"] });
      socket.setNoDelay(true); // as grpc-js does: answers and requests are small
      return socket;
    },
  });
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", (err) => reject(new Error(`cannot connect to ${o.address}: ${err.message}`, { cause: err })));
  });
  // Later connection errors end the streams open, which say so; the session's own is not thrown.
  session.on("error", () => undefined);
  const headers = {
    ":method": "POST",
    "content-type": "application/grpc",
    te: "trailers",
    "user-agent": USER_AGENT,
    "grpc-accept-encoding": "identity,deflate,gzip",
    "accept-encoding": "identity",
    "grpc-timeout": `${o.timeoutMs}m`,
  };
  return {
    call(path, message) {
      return new Promise((resolve, reject) => {
        let stream: http2.ClientHttp2Stream;
        try {
          stream = session.request({ ...headers, ":path": path });
        } catch (err) {
          reject(new Error(`${path}: cannot start a call: ${(err as Error).message}`, { cause: err }));
          return;
        }
        let status: string | undefined;
        let statusMessage = "";
        let failure: Error | undefined;
        const readStatus = (h: http2.IncomingHttpHeaders): void => {
          if (h["grpc-status"] === undefined) return;
          status = String(h["grpc-status"]);
          statusMessage = decodeURIComponent(String(h["grpc-message"] ?? ""));
        };
        stream.on("response", (h) => {
          if (h[":status"] !== 200) failure = new Error(`${path}: HTTP status ${h[":status"]}`);
          readStatus(h); // a "trailers-only" answer carries the status in its headers
        });
        stream.on("trailers", readStatus);
        stream.on("error", (err) => void (failure ??= new Error(`${path}: ${err.message}`, { cause: err })));
        stream.setTimeout(o.timeoutMs, () => {
          failure ??= new Error(`${path}: no answer within ${o.timeoutMs} ms`);
          stream.close(http2.constants.NGHTTP2_CANCEL);
        });
        stream.on("close", () => {
          if (failure) reject(failure);
          else if (status === GRPC_OK) resolve();
          else if (status === undefined) reject(new Error(`${path}: the call ended without a gRPC status (HTTP/2 code ${stream.rstCode})`));
          else reject(new Error(`${path}: gRPC status ${status}: ${statusMessage}`));
        });
        stream.resume(); // the answer's message is not decoded, only drained
        stream.end(grpcFrame(message));
      });
    },
    close() {
      session.destroy();
    },
  };
}
