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

/** Slots at first; the ring doubles when half full. */
const INITIAL_SLOTS = 64;

/**
 * A Map from stream id to stream that does not keep closed streams alive: a ring of slots
 * indexed by id (ids only grow within a session), and a small Map for the few long-lived
 * entries whose slot a much newer stream needs. Iteration is in no particular order.
 */
export class StreamTable<V> extends Map<number, V> {
  private slotIds: number[] = new Array<number>(INITIAL_SLOTS).fill(-1);
  private slotValues: (V | undefined)[] = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined);
  private inRing = 0;
  /** Entries displaced from the ring by newer ids: long-lived streams, so few and seldom changed. */
  private readonly displaced = new Map<number, V>();

  /** {@inheritDoc Map.size} */
  override get size(): number {
    return this.inRing + this.displaced.size;
  }

  /** {@inheritDoc Map.get} */
  override get(id: number): V | undefined {
    const slot = id & (this.slotIds.length - 1);
    return this.slotIds[slot] === id ? this.slotValues[slot] : this.displaced.get(id);
  }

  /** {@inheritDoc Map.has} */
  override has(id: number): boolean {
    return this.slotIds[id & (this.slotIds.length - 1)] === id || this.displaced.has(id);
  }

  /** {@inheritDoc Map.set} */
  override set(id: number, value: V): this {
    if (!Number.isInteger(id) || id < 0) throw new TypeError(`stream table: ${id} is not a stream id`);
    if (this.displaced.has(id)) {
      this.displaced.set(id, value);
      return this;
    }
    if (this.inRing + 1 > this.slotIds.length / 2) this.grow();
    const slot = id & (this.slotIds.length - 1);
    const holder = this.slotIds[slot]!;
    if (holder === -1) this.inRing++;
    else if (holder !== id) this.displaced.set(holder, this.slotValues[slot]!);
    this.slotIds[slot] = id;
    this.slotValues[slot] = value;
    return this;
  }

  /** {@inheritDoc Map.delete} */
  override delete(id: number): boolean {
    const slot = id & (this.slotIds.length - 1);
    if (this.slotIds[slot] !== id) return this.displaced.delete(id);
    this.slotIds[slot] = -1;
    this.slotValues[slot] = undefined;
    this.inRing--;
    return true;
  }

  /** {@inheritDoc Map.clear} */
  override clear(): void {
    this.slotIds.fill(-1);
    this.slotValues.fill(undefined);
    this.inRing = 0;
    this.displaced.clear();
  }

  /** {@inheritDoc Map.entries} */
  override *entries(): MapIterator<[number, V]> {
    // Copies first: callers may delete while they iterate (closing every stream does).
    yield* this.ringEntries();
    yield* [...this.displaced];
  }

  /** {@inheritDoc Map.keys} */
  override *keys(): MapIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  /** {@inheritDoc Map.values} */
  override *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  /** {@inheritDoc Map.forEach} */
  override forEach(fn: (value: V, id: number, map: Map<number, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) fn.call(thisArg, value, id, this);
  }

  override [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  /** The entries in the ring, in slot order, copied out. */
  private ringEntries(): [number, V][] {
    const entries: [number, V][] = [];
    for (let slot = 0; slot < this.slotIds.length; slot++) if (this.slotIds[slot] !== -1) entries.push([this.slotIds[slot]!, this.slotValues[slot]!]);
    return entries;
  }

  /** Doubles the ring and puts every entry back (ids in distinct slots stay in distinct slots of a ring twice as large). */
  private grow(): void {
    const entries = this.ringEntries();
    this.slotIds = new Array<number>(this.slotIds.length * 2).fill(-1);
    this.slotValues = new Array<V | undefined>(this.slotIds.length).fill(undefined);
    this.inRing = 0;
    for (const [id, value] of entries) this.set(id, value);
  }
}

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
