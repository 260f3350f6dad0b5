/**
 * Services whose implementation can change while the server runs: a node that is promoted
 * starts answering the manager services, one that is demoted stops. grpc-js services are added
 * once, before the server starts; each is added here as a thin layer that calls whatever
 * implementation is installed now, or refuses with a message that says this node is not a
 * manager. The same layer serves the unary methods to the control API's own server, which
 * answers operators on the same port (`unaryMethod`, deploy/daemon/cluster-listener.ts).
 */
import * as grpc from "@grpc/grpc-js";
import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { UnaryMethod } from "../../manager/controlapi/h2/unary-server.ts";

/** The refusal when no implementation is installed. */
export const NOT_A_MANAGER =
  "this node is not a manager: run this command against a manager (SHOAL_HOST or -H), or promote this node with `shoal node promote`";

type AnyHandler = (call: unknown, callback?: (err: grpc.ServiceError | null) => void) => void;

/** Switchable implementations of a set of services on one server. */
export class Switchboard {
  private readonly current = new Map<ServiceDefinition, UntypedServiceImplementation>();
  private readonly unary = new Map<string, UnaryMethod>();

  /** Adds every service in `defs` to `server`, each answering "not a manager" until installed. */
  constructor(server: grpc.Server, defs: ServiceDefinition[]) {
    for (const def of defs) {
      const impl: UntypedServiceImplementation = {};
      for (const [name, method] of Object.entries(def)) {
        impl[name] = ((call: unknown, callback?: (err: grpc.ServiceError | null) => void) => {
          const target = this.current.get(def)?.[name] as AnyHandler | undefined;
          if (target) return target(call, callback);
          const err = Object.assign(new Error(NOT_A_MANAGER), { code: grpc.status.FAILED_PRECONDITION, details: NOT_A_MANAGER, metadata: new grpc.Metadata() });
          if (method.responseStream) (call as grpc.ServerWritableStream<unknown, unknown>).destroy(err);
          else callback?.(err);
        }) as grpc.UntypedHandleCall;
      }
      server.addService(def, impl);
      for (const [name, method] of Object.entries(def)) {
        if (method.requestStream || method.responseStream) continue;
        this.unary.set(method.path, {
          requestDeserialize: method.requestDeserialize, responseSerialize: method.responseSerialize,
          handler: impl[name] as grpc.handleUnaryCall<unknown, unknown>,
        });
      }
    }
  }

  /**
   * The unary method at `path` (`/package.Service/Method`) for another server of the same port
   * (manager/controlapi/h2), calling whatever implementation is installed as grpc-js's does;
   * undefined for streaming methods and unknown paths.
   */
  unaryMethod(path: string): UnaryMethod | undefined {
    return this.unary.get(path);
  }

  /** Installs implementations (replacing earlier ones). */
  install(impls: [ServiceDefinition, UntypedServiceImplementation][]): void {
    for (const [def, impl] of impls) this.current.set(def, impl);
  }

  /** Removes every implementation: calls are refused again. */
  clear(): void {
    this.current.clear();
  }
}
