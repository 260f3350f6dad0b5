/**
 * Forwarding to the leader: writes (and a few reads that only the leader can answer well) that
 * reach a follower are sent on to the leader with this manager's own certificate, and the
 * leader's answer (or error) is passed back unchanged. A call that was already forwarded once
 * is not forwarded again: if it reaches a manager that is not the leader either, it fails with
 * UNAVAILABLE, so calls never loop while leadership moves.
 */
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/grpc-js";

/** Metadata key marking a forwarded call. */
export const FORWARDED_KEY = "shoal-forwarded";
/** How long a forwarded call may take: a bit more than a proposal's own timeout. */
const FORWARD_TIMEOUT_MS = 10_000;

/** Whether `call` was forwarded by another manager. */
export function wasForwarded(call: { metadata: grpc.Metadata }): boolean {
  return call.metadata.get(FORWARDED_KEY).length > 0;
}

/** Where the leader is, and how to reach it. */
export interface ForwardTarget {
  /** The leader's address, or undefined when there is no leader. */
  leaderAddr(): string | undefined;
  /** Credentials for manager-to-manager calls (this manager's certificate). */
  credentials(): grpc.ChannelCredentials;
  /** Channel options matching those credentials. */
  channelOptions?: grpc.ChannelOptions;
  /** Whether traffic to an address is cut (process tests' fault hook). */
  blocked?(addr: string): boolean;
}

/** Sends calls to the leader. */
export class LeaderForwarder {
  private readonly clients = new Map<string, grpc.Client>();

  /** A forwarder to wherever `target` says the leader is. */
  constructor(private readonly target: ForwardTarget) {}

  /** Calls `method` on the leader with `request`; rejects with the leader's error, or UNAVAILABLE. */
  call<Req, Res>(method: MethodDefinition<Req, Res>, request: Req): Promise<Res> {
    const addr = this.target.leaderAddr();
    if (!addr) return Promise.reject(unavailable("no leader is elected right now; retry shortly (the cluster may have lost quorum)"));
    if (this.target.blocked?.(addr)) return Promise.reject(unavailable(`the leader at ${addr} cannot be reached`));
    let client = this.clients.get(addr);
    if (!client) {
      client = new grpc.Client(addr, this.target.credentials(), this.target.channelOptions ?? {});
      this.clients.set(addr, client);
    }
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_KEY, "1");
    return new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, metadata,
        { deadline: Date.now() + FORWARD_TIMEOUT_MS },
        (err: grpc.ServiceError | null, res?: Res) => (err ? reject(err) : resolve(res!)));
    });
  }

  /** Closes every connection. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** A gRPC UNAVAILABLE error with a message for people. */
export function unavailable(message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code: grpc.status.UNAVAILABLE, details: message, metadata: new grpc.Metadata() });
}
