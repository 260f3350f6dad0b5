/**
 * Raft between managers over gRPC. Each peer gets one client stream; messages are queued and
 * written as batches once per event-loop turn. A peer that cannot be reached costs a backoff
 * and dropped messages (Raft retransmits), never a blocked leader. Snapshots go on their own
 * call, in chunks, so a store larger than gRPC's message limit still replicates.
 */
import * as grpc from "@grpc/grpc-js";
import type { Message } from "../../proto/gen/raft.ts";
import { MessageType } from "../../proto/gen/raft.ts";
import type { Ack, MessageBatch, SnapshotChunk } from "../../proto/gen/raftrpc.ts";
import { RaftService } from "../../proto/gen/raftrpc.ts";
import { entrySize } from "./storage.ts";
import type { Members } from "./members.ts";
import type { RaftTransport } from "./raft-node.ts";
import { SnapshotStatus } from "./raw-node.ts";

/** Tunables of the transport, each with its reason. */
export const TRANSPORT_LIMITS = {
  /** Bytes of entries per batch: well under gRPC's 4 MB default message limit. */
  maxBatchBytes: 2 * 1024 * 1024,
  /** Bytes buffered on a stream before messages are dropped: a slow peer must not eat memory. */
  maxBufferedBytes: 64 * 1024 * 1024,
  /** Snapshot chunk size. */
  snapshotChunkBytes: 1024 * 1024,
  /** First reconnection delay after a failure; doubles up to `maxBackoffMs`. */
  minBackoffMs: 50,
  /**
   * A peer that comes back is found again within this, given channel options that bound gRPC's
   * own reconnection backoff as well (RECONNECT_BACKOFF in manager/ca/credentials.ts).
   */
  maxBackoffMs: 1000,
  /** Largest snapshot accepted from a peer. */
  maxSnapshotBytes: 2 * 1024 * 1024 * 1024,
} as const;

/** What the transport delivers to and reports to. */
export interface TransportSink {
  /** A message from a peer. */
  step(m: Message): void;
  /** `raftId` could not be reached. */
  reportUnreachable(raftId: number): void;
  /** How sending a snapshot to `raftId` ended. */
  reportSnapshot(raftId: number, status: SnapshotStatus): void;
}

/** Decides, for tests, which peers' traffic is cut (both ways). */
export interface FaultHook {
  /** Whether traffic to and from the member at `addr` is dropped now. */
  blocks(addr: string): boolean;
}

/** Options of the gRPC transport. */
export interface GrpcTransportOptions {
  /** This manager's raft id. */
  raftId: number;
  /** Where members are (kept up to date by the Raft node). */
  members: Members;
  /** Where messages go. */
  sink: TransportSink;
  /** Client credentials (mutual TLS with the cluster CA in production). */
  credentials: grpc.ChannelCredentials;
  /** Channel options, e.g. the expected server name. */
  channelOptions?: grpc.ChannelOptions;
  /** Cuts traffic in tests. */
  faults?: FaultHook;
}

const RaftClient = grpc.makeGenericClientConstructor(RaftService, "Raft");
type RaftClientInstance = InstanceType<typeof RaftClient>;

function messageBytes(m: Message): number {
  let n = 64;
  for (const e of m.entries) n += entrySize(e);
  return n;
}

/** One peer: its client, its stream, its queue and its backoff. */
class Peer {
  private client: RaftClientInstance | undefined;
  private stream: grpc.ClientWritableStream<MessageBatch> | undefined;
  private queue: Message[] = [];
  private flushScheduled = false;
  private backoffMs: number = TRANSPORT_LIMITS.minBackoffMs;
  private retryAt = 0;

  constructor(
    readonly raftId: number,
    readonly addr: string,
    private readonly t: GrpcTransport,
  ) {}

  private getClient(): RaftClientInstance {
    this.client ??= new RaftClient(this.addr, this.t.opts.credentials, this.t.opts.channelOptions ?? {});
    return this.client;
  }

  /** Opens the stream now, unless one is open or a retry is not yet due. */
  connect(): void {
    this.openStream();
  }

  enqueue(m: Message): void {
    this.queue.push(m);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private fail(): void {
    this.stream = undefined;
    this.retryAt = Date.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, TRANSPORT_LIMITS.maxBackoffMs);
    this.t.opts.sink.reportUnreachable(this.raftId);
  }

  private openStream(): grpc.ClientWritableStream<MessageBatch> | undefined {
    if (this.stream) return this.stream;
    if (Date.now() < this.retryAt) return undefined;
    const stream = this.getClient().stream((err: grpc.ServiceError | null) => {
      if (this.stream === stream) {
        if (err) this.fail();
        else this.stream = undefined;
      }
    }) as grpc.ClientWritableStream<MessageBatch>;
    stream.on("error", () => {
      if (this.stream === stream) this.fail();
    });
    this.stream = stream;
    return stream;
  }

  private flush(): void {
    const msgs = this.queue;
    this.queue = [];
    if (msgs.length === 0) return;
    const stream = this.openStream();
    if (!stream || stream.writableLength > TRANSPORT_LIMITS.maxBufferedBytes) {
      // Unreachable or too slow: drop; Raft retransmits once the peer answers again.
      this.t.opts.sink.reportUnreachable(this.raftId);
      return;
    }
    let batch: Message[] = [];
    let bytes = 0;
    for (const m of msgs) {
      const size = messageBytes(m);
      if (batch.length > 0 && bytes + size > TRANSPORT_LIMITS.maxBatchBytes) {
        stream.write({ messages: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(m);
      bytes += size;
    }
    stream.write({ messages: batch });
    this.backoffMs = TRANSPORT_LIMITS.minBackoffMs;
  }

  sendSnapshot(m: Message): void {
    const data = m.snapshot!.data;
    const header: Message = { ...m, snapshot: { ...m.snapshot!, data: new Uint8Array() } };
    const call = this.getClient().streamSnapshot((err: grpc.ServiceError | null) => {
      this.t.opts.sink.reportSnapshot(this.raftId, err ? SnapshotStatus.FAILURE : SnapshotStatus.FINISH);
    }) as grpc.ClientWritableStream<SnapshotChunk>;
    call.on("error", () => { /* reported by the callback */ });
    const step = TRANSPORT_LIMITS.snapshotChunkBytes;
    for (let off = 0; off === 0 || off < data.byteLength; off += step) {
      const last = off + step >= data.byteLength;
      call.write({ message: off === 0 ? header : undefined, data: data.subarray(off, off + step), last });
      if (last) break;
    }
    call.end();
  }

  close(): void {
    this.stream?.end();
    this.client?.close();
  }
}

/** The gRPC transport of one manager. */
export class GrpcTransport implements RaftTransport {
  private readonly peers = new Map<number, Peer>();

  /** A transport for the manager `opts.raftId`. */
  constructor(readonly opts: GrpcTransportOptions) {}

  private peer(raftId: number): Peer | undefined {
    const member = this.opts.members.get(raftId);
    if (!member) return undefined;
    let p = this.peers.get(raftId);
    if (p && p.addr !== member.addr) {
      p.close();
      p = undefined;
    }
    if (!p) {
      p = new Peer(raftId, member.addr, this);
      this.peers.set(raftId, p);
    }
    return p;
  }

  /** {@inheritDoc RaftTransport.keepConnected} */
  keepConnected(): void {
    for (const member of this.opts.members.list()) {
      if (member.raftId === this.opts.raftId || this.opts.faults?.blocks(member.addr)) continue;
      this.peer(member.raftId)?.connect();
    }
    for (const [raftId, p] of this.peers) {
      if (this.opts.members.get(raftId)) continue;
      p.close();
      this.peers.delete(raftId);
    }
  }

  /** {@inheritDoc RaftTransport.send} */
  send(messages: Message[]): void {
    for (const m of messages) {
      const p = this.peer(m.to);
      if (!p || this.opts.faults?.blocks(p.addr)) {
        if (m.type === MessageType.MSG_SNAP) this.opts.sink.reportSnapshot(m.to, SnapshotStatus.FAILURE);
        continue;
      }
      if (m.type === MessageType.MSG_SNAP) p.sendSnapshot(m);
      else p.enqueue(m);
    }
  }

  private fromBlocked(m: Message): boolean {
    const member = this.opts.members.get(m.from);
    return member !== undefined && this.opts.faults?.blocks(member.addr) === true;
  }

  /**
   * The server side of the Raft service, delivering to the sink. `authorize` vets each call
   * (only managers may speak Raft) and throws a gRPC error to refuse it.
   */
  serviceImplementation(authorize: (call: grpc.ServerReadableStream<unknown, unknown>) => void): grpc.UntypedServiceImplementation {
    return {
      stream: (call: grpc.ServerReadableStream<MessageBatch, Ack>, callback: grpc.sendUnaryData<Ack>) => {
        try {
          authorize(call);
        } catch (err) {
          callback(err as grpc.ServiceError);
          return;
        }
        call.on("data", (batch: MessageBatch) => {
          for (const m of batch.messages) {
            if (m.to !== this.opts.raftId || this.fromBlocked(m)) continue;
            this.opts.sink.step(m);
          }
        });
        call.on("end", () => callback(null, {}));
        call.on("error", () => { /* the peer went away; it reconnects */ });
      },
      streamSnapshot: (call: grpc.ServerReadableStream<SnapshotChunk, Ack>, callback: grpc.sendUnaryData<Ack>) => {
        try {
          authorize(call);
        } catch (err) {
          callback(err as grpc.ServiceError);
          return;
        }
        let header: Message | undefined;
        const parts: Uint8Array[] = [];
        let size = 0;
        let done = false;
        const finish = (err: grpc.ServiceError | null): void => {
          if (done) return;
          done = true;
          callback(err, err ? undefined : {});
        };
        call.on("data", (chunk: SnapshotChunk) => {
          if (done) return;
          if (chunk.message) header = chunk.message;
          parts.push(chunk.data);
          size += chunk.data.byteLength;
          if (size > TRANSPORT_LIMITS.maxSnapshotBytes) {
            finish({ code: grpc.status.RESOURCE_EXHAUSTED, details: `snapshot larger than ${TRANSPORT_LIMITS.maxSnapshotBytes} bytes`, name: "Error", message: "snapshot too large", metadata: new grpc.Metadata() });
            return;
          }
          if (!chunk.last) return;
          if (!header || !header.snapshot) {
            finish({ code: grpc.status.INVALID_ARGUMENT, details: "snapshot stream without its message header", name: "Error", message: "no header", metadata: new grpc.Metadata() });
            return;
          }
          const data = Buffer.concat(parts);
          const m: Message = { ...header, snapshot: { ...header.snapshot, data } };
          if (m.to === this.opts.raftId && !this.fromBlocked(m)) this.opts.sink.step(m);
          finish(null);
        });
        call.on("error", () => finish({ code: grpc.status.CANCELLED, details: "snapshot stream broke", name: "Error", message: "cancelled", metadata: new grpc.Metadata() }));
      },
    };
  }

  /** Closes every peer connection. */
  close(): void {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
  }
}
