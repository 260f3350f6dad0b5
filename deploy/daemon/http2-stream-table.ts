/**
 * A workaround for a garbage-collection trap in Node's HTTP/2 sessions, which every gRPC call
 * goes through.
 *
 * A session keeps its open streams in a Map (Node's internal `session[kState].streams`): one
 * entry added and one deleted per call. A Map that churns like this rebuilds its hash table
 * every few hundred calls, and V8 leaves the old table holding every stream it held. Once such
 * a table is in the old generation, the streams it held stay alive through the young
 * collections, each with its whole call (gRPC's call objects, buffers, header strings), until
 * the next full collection: so every call was moved to the old generation instead of dying
 * young. On a leader under load that was 4 KB per write, and a full collection of 50–140 ms,
 * which stops every write in flight, every few seconds.
 *
 * `installHttp2StreamTables` makes every HTTP/2 session of this process (servers' and
 * clients') keep its streams in a {@link StreamTable} instead: slots indexed by stream id,
 * cleared when a stream closes. It reaches into Node's private session state; where that is
 * not laid out as in the Node versions this was written for, sessions keep their Map (a test
 * checks that the table is in use, so that a Node upgrade that moves it is noticed).
 */
import http2 from "node:http2";
import type { Http2Session } from "node:http2";
import { StreamTable } from "../../manager/controlapi/h2/stream-table.ts";

/** Node's private state of a session, where it keeps its streams (see the file comment). */
interface SessionState {
  streams: Map<number, unknown>;
}

/** Whether `value` is a Map of Node's own (its internals use `SafeMap`, which is not an `instanceof Map`) or one of ours. */
function isNodeMap(value: unknown): boolean {
  return value instanceof Map || (typeof value === "object" && value !== null && value.constructor?.name === "SafeMap");
}

/** The session's private state when it is laid out as this workaround expects, else undefined. */
function sessionState(session: Http2Session): SessionState | undefined {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === "state");
  const state = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  const streams = (state as Partial<SessionState> | undefined)?.streams;
  return isNodeMap(streams) ? (state as SessionState) : undefined;
}

/**
 * Gives a new session a {@link StreamTable} for its streams; returns whether the session now
 * keeps its streams in one (not when Node lays out its session state otherwise, or when the
 * session already has streams in its Map).
 */
export function useStreamTable(session: Http2Session): boolean {
  const state = sessionState(session);
  if (!state || state.streams instanceof StreamTable) return state !== undefined;
  if (state.streams.size > 0) return false;
  state.streams = new StreamTable();
  return true;
}

/** The {@link StreamTable} that `session` keeps its streams in, or undefined when it keeps them elsewhere. */
export function streamTableOf(session: Http2Session): StreamTable<unknown> | undefined {
  const streams = sessionState(session)?.streams;
  return streams instanceof StreamTable ? streams : undefined;
}

let installed = false;

/**
 * Makes every HTTP/2 session this process opens or accepts from now on (gRPC's included) use a
 * {@link StreamTable}. Idempotent.
 */
export function installHttp2StreamTables(): void {
  if (installed) return;
  installed = true;
  const { createServer, createSecureServer, connect } = http2;
  const watchSessions = <S extends http2.Http2Server | http2.Http2SecureServer>(server: S): S => {
    server.on("session", (session: Http2Session) => void useStreamTable(session));
    return server;
  };
  Object.assign(http2, {
    createServer: (...args: Parameters<typeof createServer>) => watchSessions(createServer(...args)),
    createSecureServer: (...args: Parameters<typeof createSecureServer>) => watchSessions(createSecureServer(...args)),
    connect: (...args: Parameters<typeof connect>) => {
      const session = connect(...args);
      useStreamTable(session);
      return session;
    },
  });
}
