/**
 * The control API as the CLI calls it: one promise per RPC, a deadline on each, and gRPC errors
 * turned into {@link CliError}s worded for people (the server's `details`, or why the daemon
 * could not be reached).
 */
import { makeGenericClientConstructor, status } from "@grpc/grpc-js";
import type { CallOptions, ClientUnaryCall, ServiceClientConstructor, ServiceError } from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import type { IssueOperatorCertificateRequest, IssueOperatorCertificateResponse } from "../../proto/gen/ca.ts";
import type { ListNodesResponse, RemoveNodeRequest, UpdateClusterRequest, UpdateNodeRequest } from "../../proto/gen/control.ts";
import type { Cluster, Config, Node } from "../../proto/gen/objects.ts";
import type { ConfigSpec, NodeRole } from "../../proto/gen/specs.ts";
import type { Endpoint } from "./connection.ts";
import { CliError } from "./errors.ts";

/**
 * How long one RPC may take, connecting included: writes wait for a Raft commit, which during a
 * leader election takes about 2 s by DESIGN.md's timings; far beyond that, something is wrong.
 */
export const CONTROL_RPC_TIMEOUT_MS = 30_000;

/** The name of one control API method (lower camel case, as grpc-js names them). */
export type ControlMethod = keyof typeof ControlService;
/** The request message of `K`. */
export type ControlRequest<K extends ControlMethod> = Parameters<(typeof ControlService)[K]["requestSerialize"]>[0];
/** The response message of `K`. */
export type ControlResponse<K extends ControlMethod> = ReturnType<(typeof ControlService)[K]["responseDeserialize"]>;

/** A unary method of a client made by `makeGenericClientConstructor`. */
type UnaryMethod<Req, Res> = (request: Req, options: CallOptions, callback: (err: ServiceError | null, response?: Res) => void) => ClientUnaryCall;

const ControlClientConstructor = makeGenericClientConstructor(ControlService, "Control");

/** Shown where the answering manager's address belongs but it does not know it. */
export const MANAGER_ADDR_PLACEHOLDER = "<MANAGER-ADDR>";

/** What grpc-js says, before the cause, when a call never reached the server. */
const NO_CONNECTION = "No connection established";

/** A gRPC error as a person should read it; `host` is where the CLI tried to connect. */
function describeError(err: ServiceError, host: string): CliError {
  if (err.code === status.UNAVAILABLE && err.details.startsWith(NO_CONNECTION)) {
    // "No connection established. Last error: Error: connect ENOENT /x. Resolution note: "
    const cause = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(err.details)?.[1] ?? err.details;
    // A socket that refuses or does not exist: likely the wrong address, or no daemon there.
    const hint = /^connect E/.test(cause) ? " (is shoald running there? -H or SHOAL_HOST names another)" : "";
    return new CliError(`cannot connect to shoald at ${host}: ${cause}${hint}`, true);
  }
  if (err.code === status.DEADLINE_EXCEEDED) {
    return new CliError(`shoald at ${host} did not answer within ${CONTROL_RPC_TIMEOUT_MS / 1000} s`, true);
  }
  return new CliError(err.details || err.message);
}

/** A connection to one daemon's control API; see the file comment. */
export class ControlClient {
  readonly #client: InstanceType<ServiceClientConstructor>;

  /** Makes the channel; nothing is sent until the first call. */
  constructor(readonly endpoint: Endpoint) {
    this.#client = new ControlClientConstructor(endpoint.target, endpoint.credentials, endpoint.options);
  }

  /** Calls `method`; rejects with a {@link CliError}. */
  call<K extends ControlMethod>(method: K, request: ControlRequest<K>): Promise<ControlResponse<K>> {
    const fn = this.#client[method] as unknown as UnaryMethod<ControlRequest<K>, ControlResponse<K>>;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, request, { deadline: Date.now() + CONTROL_RPC_TIMEOUT_MS }, (err, response) =>
        err ? reject(describeError(err, this.endpoint.host)) : resolve(response!),
      );
    });
  }

  /** The cluster (without the CA key). */
  async getCluster(): Promise<Cluster> {
    return present((await this.call("getCluster", {})).cluster, "cluster");
  }

  /** Updates the cluster; returns it as updated. */
  async updateCluster(request: UpdateClusterRequest): Promise<Cluster> {
    return present((await this.call("updateCluster", request)).cluster, "cluster");
  }

  /** The nodes with one of `roles` (all when empty), and the id of the node that answered. */
  listNodes(roles: NodeRole[] = []): Promise<ListNodesResponse> {
    return this.call("listNodes", { roles });
  }

  /** The node `ref` names: an id, a unique id prefix or a hostname (the server resolves it). */
  async getNode(ref: string): Promise<Node> {
    return present((await this.call("getNode", { node: ref })).node, "node");
  }

  /** Replaces a node's spec; returns the node as updated. */
  async updateNode(request: UpdateNodeRequest): Promise<Node> {
    return present((await this.call("updateNode", request)).node, "node");
  }

  /** Removes a node. */
  async removeNode(request: RemoveNodeRequest): Promise<void> {
    await this.call("removeNode", request);
  }

  /** Has the CA sign an operator certificate for a CSR. */
  issueOperatorCertificate(request: IssueOperatorCertificateRequest): Promise<IssueOperatorCertificateResponse> {
    return this.call("issueOperatorCertificate", request);
  }

  /** Creates a config; returns it as stored. */
  async createConfig(spec: ConfigSpec): Promise<Config> {
    return present((await this.call("createConfig", { spec })).config, "config");
  }

  /** The config `ref` names: an id, a name or a unique id prefix (the server resolves it). */
  async getConfig(ref: string): Promise<Config> {
    return present((await this.call("getConfig", { config: ref })).config, "config");
  }

  /** Every config. */
  async listConfigs(): Promise<Config[]> {
    return (await this.call("listConfigs", {})).configs;
  }

  /** Removes the config with this id. */
  async removeConfig(configId: string): Promise<void> {
    await this.call("removeConfig", { configId });
  }

  /**
   * The cluster address of the manager that answers, from its own Node, for commands that tell
   * people how to reach the cluster; a placeholder for them to fill in if it has none.
   */
  async managerAddr(): Promise<string> {
    const { nodes, selfNodeId } = await this.listNodes();
    return nodes.find((n) => n.id === selfNodeId)?.managerStatus?.addr || MANAGER_ADDR_PLACEHOLDER;
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }
}

/** `value`, which a well-behaved server always sends; a {@link CliError} if it did not. */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new CliError(`the server answered without a ${what}`);
  return value;
}
