/**
 * A node's session with the managers: a heartbeat to the leader every period (managers send
 * one too), failing over between managers and following the leader's address when a follower
 * names it. Each answer refreshes the list of managers and says which role the node should
 * have; a change of role is handed to the daemon.
 */
import * as grpc from "@grpc/grpc-js";
import { DispatcherService } from "../../proto/gen/dispatcher.ts";
import type { HeartbeatResponse } from "../../proto/gen/dispatcher.ts";
import type { NodeDescription } from "../../proto/gen/objects.ts";
import type { NodeRole } from "../../proto/gen/specs.ts";
import { CLUSTER_CHANNEL_OPTIONS } from "../../manager/ca/index.ts";
import { HEARTBEAT_PERIOD_MS, LEADER_ADDR_KEY } from "../../manager/dispatcher/heartbeats.ts";

/** How long one heartbeat may take before the next manager is tried. */
const HEARTBEAT_TIMEOUT_MS = 2_000;
/** Delay before retrying when no manager answered. */
const RETRY_MS = 500;

/** What a session needs from its node. */
export interface SessionOptions {
  /** Managers to try, most likely leader first. */
  managers: string[];
  /** Credentials of this node. */
  credentials: () => grpc.ChannelCredentials;
  /** What the node says about itself. */
  description: () => NodeDescription;
  /** Where the node listens. */
  addr: string;
  /** Called after each answer, with the managers' addresses. */
  onManagers?: (managers: string[]) => void;
  /** Called with the role the managers want this node to have. */
  onDesiredRole?: (role: NodeRole) => void;
}

/** Heartbeats until stopped. */
export class Session {
  private managers: string[];
  private readonly clients = new Map<string, grpc.Client>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** A session over `opts`; call `start`. */
  constructor(private readonly opts: SessionOptions) {
    this.managers = [...opts.managers];
  }

  /** Starts heartbeating. */
  start(): void {
    void this.beat();
  }

  /** Stops heartbeating. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.clients.values()) c.close();
  }

  private call(addr: string): Promise<HeartbeatResponse> {
    let client = this.clients.get(addr);
    if (!client) {
      client = new grpc.Client(addr, this.opts.credentials(), CLUSTER_CHANNEL_OPTIONS);
      this.clients.set(addr, client);
    }
    const m = DispatcherService.heartbeat;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize,
        { description: this.opts.description(), addr: this.opts.addr }, new grpc.Metadata(), { deadline: Date.now() + HEARTBEAT_TIMEOUT_MS },
        (err: grpc.ServiceError | null, res?: HeartbeatResponse) => (err ? reject(err) : resolve(res!)));
    });
  }

  private async beat(): Promise<void> {
    let next = RETRY_MS;
    const tried = new Set<string>();
    for (let i = 0; i < this.managers.length * 2 && !this.stopped; i++) {
      const addr = this.managers.find((a) => !tried.has(a));
      if (!addr) break;
      tried.add(addr);
      try {
        const res = await this.call(addr);
        this.managers = [addr, ...res.managers.filter((a) => a !== addr)];
        this.opts.onManagers?.(this.managers);
        this.opts.onDesiredRole?.(res.desiredRole);
        next = res.periodMs || HEARTBEAT_PERIOD_MS;
        break;
      } catch (err) {
        const leader = (err as grpc.ServiceError).metadata?.get(LEADER_ADDR_KEY)[0];
        if (typeof leader === "string" && !tried.has(leader)) this.managers = [leader, ...this.managers.filter((a) => a !== leader)];
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.beat(), next);
  }
}
