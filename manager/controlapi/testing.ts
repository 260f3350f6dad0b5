/**
 * For the control API's tests: its handlers over a store fed by a fake Raft log (see
 * manager/store/testing.ts), as the leader or as a follower whose forwarded calls are recorded,
 * called in-process the way grpc-js calls them, with gRPC errors surfacing as rejections.
 */
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition, ServerUnaryCall } from "@grpc/grpc-js";
import type { ControlService } from "../../proto/gen/control.ts";
import { Members } from "../raft/members.ts";
import { FakeRaft } from "../store/testing.ts";
import type { Delivery } from "../store/testing.ts";
import { LeaderForwarder } from "./forward.ts";
import { createControlService } from "./server.ts";
import type { ControlHandlers } from "./server.ts";

/** The name of one control method. */
export type ControlMethod = keyof ControlHandlers;
/** The request of `K`. */
export type RequestOf<K extends ControlMethod> = Parameters<(typeof ControlService)[K]["requestSerialize"]>[0];
/** The response of `K`. */
export type ResponseOf<K extends ControlMethod> = ReturnType<(typeof ControlService)[K]["responseDeserialize"]>;

/** One call a follower passed on to the leader. */
export interface ForwardedCall {
  path: string;
  request: unknown;
}

/** A forwarder that records what it is asked to send and answers UNAVAILABLE. */
class RecordingForwarder extends LeaderForwarder {
  readonly calls: ForwardedCall[] = [];

  constructor() {
    super({ leaderAddr: () => "127.0.0.1:1", credentials: () => grpc.credentials.createInsecure() });
  }

  override call<Req, Res>(method: MethodDefinition<Req, Res>, request: Req): Promise<Res> {
    this.calls.push({ path: method.path, request });
    return Promise.reject(Object.assign(new Error("forwarded in a test"), { code: grpc.status.UNAVAILABLE }));
  }
}

/** What {@link controlHarness} makes. */
export interface ControlHarness {
  /** The log and the store behind the handlers. */
  raft: FakeRaft;
  /** Calls the handler of `method` as grpc-js would; rejects with the gRPC error it answers. */
  call<K extends ControlMethod>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>>;
  /** The calls passed on to the leader (only a follower passes any on). */
  forwarded: ForwardedCall[];
}

/** How a {@link controlHarness} is made. */
export interface ControlHarnessOptions {
  /** Whether this manager leads (default); a follower's leader is raft id 1. */
  leader?: boolean;
  /** When the fake log commits proposals (default `sync`). */
  delivery?: Delivery;
}

/** The control handlers of one manager, over a one-replica fake log. */
export function controlHarness(options: ControlHarnessOptions = {}): ControlHarness {
  const isLeader = options.leader ?? true;
  const raft = new FakeRaft({ delivery: options.delivery });
  const forwarder = new RecordingForwarder();
  const handlers = createControlService({
    store: raft.store,
    selfNodeId: "self",
    raft: {
      isLeader,
      leader: 1,
      members: new Members(),
      memberReachable: () => true,
      removalRefusal: () => undefined,
      checkCanWrite: () => {},
    },
    forwarder,
    signOperatorCertificate: () => ({ certPem: "", caCertPem: "" }),
    authorize: () => {},
  });
  return {
    raft,
    forwarded: forwarder.calls,
    call<K extends ControlMethod>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>> {
      const handle = handlers[method] as unknown as grpc.handleUnaryCall<RequestOf<K>, ResponseOf<K>>;
      const call = { request, metadata: new grpc.Metadata() } as ServerUnaryCall<RequestOf<K>, ResponseOf<K>>;
      return new Promise((resolve, reject) => handle(call, (err, res) => (err ? reject(err) : resolve(res!))));
    },
  };
}
