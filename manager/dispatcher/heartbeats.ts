/**
 * Node liveness, on the leader: every node calls Heartbeat every period; the first heartbeat
 * after a silence marks the node Ready in the store, and a node silent for HEARTBEAT_GRACE
 * periods is marked Down. Only transitions are written, so steady heartbeats cost no Raft
 * writes. A new leader gives every node a full grace period before judging it.
 */
import * as grpc from "@grpc/grpc-js";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import type { HeartbeatRequest, HeartbeatResponse } from "../../proto/gen/dispatcher.ts";
import type { Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import type { MemoryStore } from "../store/index.ts";
import { grpcError, toGrpcError } from "../controlapi/errors.ts";

/** Metadata key of the leader's address, on a follower's refusal. */
export const LEADER_ADDR_KEY = "shoal-leader-addr";
/** Heartbeat period, as Docker's dispatcher default. */
export const HEARTBEAT_PERIOD_MS = 5_000;
/** Periods of silence before a node is marked Down (DESIGN.md: a grace of 3 periods). */
export const HEARTBEAT_GRACE = 3;

/** What the heartbeat service needs from its manager. */
export interface HeartbeatContext {
  store: MemoryStore;
  isLeader(): boolean;
  /** The leader's address, undefined when there is none. */
  leaderAddr(): string | undefined;
  /** Addresses of the managers, for nodes to fail over to. */
  managerAddrs(): string[];
  /** Vets the caller; returns its node id or throws a gRPC error. */
  authorize(call: ServerUnaryCall<unknown, unknown>): string;
  /** Heartbeat period (tests shorten it). */
  periodMs?: number;
}

/** Tracks heartbeats and writes Ready/Down transitions (on the leader). */
export class Heartbeats {
  private readonly lastSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly periodMs: number;

  /** Heartbeats over `ctx`. */
  constructor(private readonly ctx: HeartbeatContext) {
    this.periodMs = ctx.periodMs ?? HEARTBEAT_PERIOD_MS;
  }

  /** Starts judging nodes (call on becoming leader): every node gets a full grace period first. */
  startLeading(): void {
    const now = Date.now();
    for (const n of this.ctx.store.view((tx) => tx.list("node"))) this.lastSeen.set(n.id, now);
    this.timer = setInterval(() => void this.expire().catch(() => {}), Math.max(100, this.periodMs / 2));
  }

  /** Stops judging (on losing leadership). */
  stopLeading(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lastSeen.clear();
  }

  private async expire(): Promise<void> {
    const deadline = Date.now() - HEARTBEAT_GRACE * this.periodMs;
    const stale = this.ctx.store.view((tx) => tx.list("node"))
      .filter((n) => n.status?.state === NodeState.NODE_STATE_READY && (this.lastSeen.get(n.id) ?? 0) < deadline);
    if (stale.length === 0) return;
    await this.ctx.store.update((tx) => {
      for (const n of stale) tx.update("node", withStatus(n, NodeState.NODE_STATE_DOWN, "heartbeat failure", n.status?.addr ?? ""));
    });
  }

  private async heartbeat(nodeId: string, req: HeartbeatRequest): Promise<HeartbeatResponse> {
    this.lastSeen.set(nodeId, Date.now());
    const node = this.ctx.store.view((tx) => tx.get("node", nodeId));
    if (!node) throw grpcError(grpc.status.NOT_FOUND, `node ${nodeId} is not part of this cluster (was it removed?)`);
    if (node.status?.state !== NodeState.NODE_STATE_READY || node.status.addr !== req.addr) {
      await this.ctx.store.update((tx) => {
        const current = tx.get("node", nodeId);
        if (current) tx.update("node", { ...withStatus(current, NodeState.NODE_STATE_READY, "", req.addr), description: req.description ?? current.description });
      });
    }
    return { periodMs: this.periodMs, desiredRole: node.spec?.desiredRole ?? NodeRole.NODE_ROLE_WORKER, managers: this.ctx.managerAddrs() };
  }

  /** Handlers for `server.addService(DispatcherService, ...)`. */
  service(): grpc.UntypedServiceImplementation {
    return {
      heartbeat: (call: ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>, callback: sendUnaryData<HeartbeatResponse>) => {
        Promise.resolve()
          .then(() => {
            const nodeId = this.ctx.authorize(call as ServerUnaryCall<unknown, unknown>);
            if (this.ctx.isLeader()) return this.heartbeat(nodeId, call.request);
            // Not forwarded (the leader must see the node's own certificate): the node is told
            // where the leader is and calls it directly.
            const leader = this.ctx.leaderAddr();
            const err = grpcError(grpc.status.FAILED_PRECONDITION, leader ? `not the leader; the leader is at ${leader}` : "no leader is elected right now");
            if (leader) err.metadata.set(LEADER_ADDR_KEY, leader);
            throw err;
          })
          .then((res) => callback(null, res), (err: unknown) => callback(toGrpcError(err)));
      },
    };
  }
}

function withStatus(n: Node, state: NodeState, message: string, addr: string): Node {
  return { ...n, status: { state, message, addr } };
}
