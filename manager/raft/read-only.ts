/**
 * Linearizable reads without writing to the log (ReadIndex, thesis §6.4): the leader notes its
 * commit index for a read request, confirms it still leads by a round of heartbeats carrying the
 * request's context, and once a majority answers, the read may be served at that index.
 */
import type { Message } from "../../proto/gen/raft.ts";

/** A read that may be served once the local state machine has applied up to `index`. */
export interface ReadState {
  /** Commit index at the time the read was asked. */
  index: number;
  /** The context the application gave with the request (its request id). */
  requestCtx: Uint8Array;
}

/** A pending read request, waiting for a majority to confirm leadership. */
interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<number>;
}

/** Turns a context into a map key. */
export function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString("latin1");
}

/** Read requests awaiting confirmation, in the order they were asked. */
export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Registers a read at `index` for request message `m` (its context identifies it). */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records a heartbeat answer from `id` for `ctx`; returns the acknowledgements so far. */
  recvAck(id: number, ctx: Uint8Array): Set<number> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * Releases the request with context `ctx` and every request queued before it (a majority that
   * confirmed a later heartbeat round also confirms the earlier ones).
   */
  advance(ctx: Uint8Array): { req: Message; index: number }[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.splice(0, at + 1);
    return released.map((k) => {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      return { req: rs.req, index: rs.index };
    });
  }

  /** The context of the newest pending request, to carry on the next heartbeats. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)!.req.context;
  }

  /** Forgets every pending request (leadership was lost). */
  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
