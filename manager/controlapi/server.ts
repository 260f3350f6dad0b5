/**
 * The control API (proto/control.proto) of a manager: validation, authorization (by the
 * injected `authorize`, which the daemon sets to the certificate check on its TCP server and
 * to nothing on its owner-only unix socket), and leader forwarding. Reads of the cluster are
 * answered locally, so they keep working without quorum; node listings go to the leader when
 * there is one, since only the leader knows which managers are reachable; config reads too, so
 * that a config just created through any manager is seen at once (as Docker's reads, which
 * all go to the leader).
 */
import * as grpc from "@grpc/grpc-js";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import type { IssueOperatorCertificateRequest, IssueOperatorCertificateResponse } from "../../proto/gen/ca.ts";
import type {
  CreateConfigRequest, CreateConfigResponse, GetClusterResponse, GetConfigRequest, GetConfigResponse, GetNodeRequest,
  GetNodeResponse, ListConfigsResponse, ListNodesRequest,
  ListNodesResponse, RemoveConfigRequest, RemoveConfigResponse, RemoveNodeRequest, RemoveNodeResponse, UpdateClusterRequest,
  UpdateClusterResponse, UpdateNodeRequest, UpdateNodeResponse,
} from "../../proto/gen/control.ts";
import type { Cluster, Config, Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import type { NodeSpec } from "../../proto/gen/specs.ts";
import { StoreError, StoreErrorCode } from "../store/index.ts";
import type { MemoryStore } from "../store/index.ts";
import { newId, revokeOperatorNames, rotateJoinToken } from "../ca/index.ts";
import type { CertIdentity } from "../ca/index.ts";
import { grpcError, toGrpcError } from "./errors.ts";
import type { LeaderForwarder } from "./forward.ts";
import { unavailable, wasForwarded } from "./forward.ts";
import { resolveRef } from "./resolve.ts";
import { checkLabelKeys, validateConfigSpec } from "./validate.ts";
import type { Members } from "../raft/members.ts";

/** What the control API needs from its manager. */
export interface ControlContext {
  /** The replicated store. */
  store: MemoryStore;
  /** This manager's node id. */
  selfNodeId: string;
  /** The Raft group as this manager sees it. */
  raft: {
    readonly isLeader: boolean;
    readonly leader: number;
    readonly members: Members;
    /** Whether the member is reachable (always true for this manager itself). */
    memberReachable(raftId: number): boolean;
    /** Why removing the member would lose quorum, or undefined when it is safe. */
    removalRefusal(raftId: number): string | undefined;
    /** Throws, saying why (with how many managers are reachable), when no write can succeed now. */
    checkCanWrite(): void;
  };
  /** Sends calls on to the leader. */
  forwarder: LeaderForwarder;
  /** Signs an operator certificate for a CSR, asked for by `caller` (undefined: the local socket); throws a CAError to refuse. */
  signOperatorCertificate(csrPem: string, name: string, caller: CertIdentity | undefined): { certPem: string; caCertPem: string };
  /** Vets a caller and returns who it is (undefined on the owner-only local socket); throws a gRPC error to refuse. */
  authorize(call: ServerUnaryCall<unknown, unknown>): CertIdentity | undefined;
}

type Method = keyof typeof ControlService;
type Req<K extends Method> = ReturnType<(typeof ControlService)[K]["requestDeserialize"]>;
type Res<K extends Method> = ReturnType<(typeof ControlService)[K]["responseDeserialize"]>;

/** Handlers for every Control RPC, for `server.addService(ControlService, ...)`. */
export type ControlHandlers = { [K in Method]: grpc.handleUnaryCall<Req<K>, Res<K>> };

/** How a handler runs: locally, or on the leader (forwarded from a follower). */
const Where = { LOCAL: "local", LEADER: "leader", LEADER_IF_ANY: "leader-if-any" } as const;
type Where = (typeof Where)[keyof typeof Where];

/** Strips what must never leave a manager: the CA's private key. */
function publicCluster(c: Cluster): Cluster {
  return { ...c, rootCa: c.rootCa ? { ...c.rootCa, caKeyPem: "" } : undefined };
}

const AVAILABILITY_VALUES = Object.values(NodeAvailability) as number[];
const ROLE_VALUES = Object.values(NodeRole) as number[];

/** Makes the handlers over `ctx`. */
export function createControlService(ctx: ControlContext): ControlHandlers {
  const handler = <K extends Method>(method: K, where: Where, run: (req: Req<K>, caller: CertIdentity | undefined) => Promise<Res<K>> | Res<K>) =>
    (call: ServerUnaryCall<Req<K>, Res<K>>, callback: sendUnaryData<Res<K>>): void => {
      Promise.resolve()
        .then(() => {
          const caller = ctx.authorize(call as ServerUnaryCall<unknown, unknown>);
          const forwarded = wasForwarded(call);
          const mustForward = !ctx.raft.isLeader && (where === Where.LEADER || (where === Where.LEADER_IF_ANY && ctx.raft.leader !== 0));
          if (mustForward) {
            if (forwarded) throw unavailable("this manager is not the leader either; leadership is moving, retry shortly");
            if (where === Where.LEADER && ctx.raft.leader === 0) ctx.raft.checkCanWrite();
            const res = ctx.forwarder.call(ControlService[method] as unknown as grpc.MethodDefinition<Req<K>, Res<K>>, call.request);
            // The node that answers a listing is the one the caller talked to, not the leader.
            return method === "listNodes" ? res.then((r) => ({ ...r, selfNodeId: ctx.selfNodeId })) : res;
          }
          return run(call.request, caller);
        })
        .then((res) => callback(null, res), (err: unknown) => callback(toGrpcError(err)));
    };

  const cluster = (): Cluster => {
    const c = ctx.store.view((tx) => tx.list("cluster"))[0];
    if (!c) throw grpcError(grpc.status.UNAVAILABLE, "the cluster is still being created");
    return c;
  };

  const decorate = (n: Node): Node => {
    const member = ctx.raft.members.byNodeId(n.id);
    if (!member) return n;
    return {
      ...n,
      managerStatus: {
        raftId: member.raftId, addr: member.addr,
        leader: member.raftId === ctx.raft.leader,
        reachable: ctx.raft.memberReachable(member.raftId),
      },
    };
  };

  const resolveNode = (ref: string): Node => {
    const nodes = ctx.store.view((tx) => tx.list("node"));
    return resolveRef("node", ref, "a node id, id prefix or hostname is required", [
      (r) => nodes.filter((n) => n.id === r),
      (r) => nodes.filter((n) => n.id.startsWith(r)),
      (r) => nodes.filter((n) => n.description?.hostname === r),
    ]);
  };

  /** A config by id, then by name, then by unique id prefix, as Docker resolves them. */
  const resolveConfig = (ref: string): Config =>
    ctx.store.view((tx) => resolveRef("config", ref, "a config id, name or id prefix is required", [
      (r) => [tx.get("config", r)].filter((c) => c !== undefined),
      (r) => tx.find("config", "name", r),
      (r) => tx.list("config").filter((c) => c.id.startsWith(r)),
    ]));

  const validateSpec = (spec: NodeSpec | undefined): NodeSpec => {
    if (!spec) throw grpcError(grpc.status.INVALID_ARGUMENT, "a node spec is required");
    if (!AVAILABILITY_VALUES.includes(spec.availability)) {
      throw grpcError(grpc.status.INVALID_ARGUMENT, `invalid availability ${spec.availability}: must be active, pause or drain`);
    }
    if (!ROLE_VALUES.includes(spec.desiredRole)) throw grpcError(grpc.status.INVALID_ARGUMENT, `invalid role ${spec.desiredRole}: must be worker or manager`);
    checkLabelKeys(spec.annotations?.labels);
    return spec;
  };

  return {
    getCluster: handler("getCluster", Where.LOCAL, (): GetClusterResponse => ({ cluster: publicCluster(cluster()) })),

    updateCluster: handler("updateCluster", Where.LEADER, async (req: UpdateClusterRequest): Promise<UpdateClusterResponse> => {
      const current = cluster();
      let rootCa = current.rootCa!;
      if (req.rotateWorkerToken) rootCa = rotateJoinToken(rootCa, NodeRole.NODE_ROLE_WORKER);
      if (req.rotateManagerToken) rootCa = rotateJoinToken(rootCa, NodeRole.NODE_ROLE_MANAGER);
      const revokedOperators = revokeOperatorNames(current, req.revokeOperators);
      const next: Cluster = { ...current, meta: { ...current.meta!, version: req.version }, spec: req.spec ?? current.spec, rootCa, revokedOperators };
      await ctx.store.update((tx) => tx.update("cluster", next));
      return { cluster: publicCluster(cluster()) };
    }),

    listNodes: handler("listNodes", Where.LEADER_IF_ANY, (req: ListNodesRequest): ListNodesResponse => {
      let nodes = ctx.store.view((tx) => tx.list("node"));
      if (req.roles.length > 0) nodes = nodes.filter((n) => req.roles.includes(n.role));
      return { nodes: nodes.map(decorate), selfNodeId: ctx.selfNodeId };
    }),

    getNode: handler("getNode", Where.LEADER_IF_ANY, (req: GetNodeRequest): GetNodeResponse => ({ node: decorate(resolveNode(req.node)) })),

    updateNode: handler("updateNode", Where.LEADER, async (req: UpdateNodeRequest): Promise<UpdateNodeResponse> => {
      const spec = validateSpec(req.spec);
      const node = resolveNode(req.nodeId);
      const member = ctx.raft.members.byNodeId(node.id);
      if (spec.desiredRole === NodeRole.NODE_ROLE_WORKER && node.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER) {
        const managers = ctx.store.view((tx) => tx.list("node")).filter((n) => n.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER);
        if (managers.length <= 1) throw grpcError(grpc.status.FAILED_PRECONDITION, `node ${node.id} is the last manager of the cluster and cannot be demoted`);
        const refusal = member ? ctx.raft.removalRefusal(member.raftId) : undefined;
        if (refusal) throw grpcError(grpc.status.FAILED_PRECONDITION, `can't demote node ${node.id}: ${refusal}`);
      }
      const committed = await ctx.store.update((tx) => tx.update("node", { ...node, meta: { ...node.meta!, version: req.version }, spec }));
      const written = committed.changes.find((c) => c.table === "node")?.object as Node | undefined;
      return { node: decorate(written ?? resolveNode(node.id)) };
    }),

    removeNode: handler("removeNode", Where.LEADER, async (req: RemoveNodeRequest): Promise<RemoveNodeResponse> => {
      const node = resolveNode(req.nodeId);
      if (ctx.raft.members.byNodeId(node.id) || node.role === NodeRole.NODE_ROLE_MANAGER) {
        throw grpcError(grpc.status.FAILED_PRECONDITION,
          `node ${node.id} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
      }
      if (node.status?.state === NodeState.NODE_STATE_READY && !req.force) {
        throw grpcError(grpc.status.FAILED_PRECONDITION, `node ${node.id} is not down and can't be removed (use --force to remove it anyway)`);
      }
      await ctx.store.update((tx) => {
        const c = tx.list("cluster")[0];
        if (c) tx.update("cluster", { ...c, removedNodes: [...c.removedNodes, node.id] });
        tx.delete("node", node.id);
      });
      return {};
    }),

    issueOperatorCertificate: handler("issueOperatorCertificate", Where.LOCAL, (req: IssueOperatorCertificateRequest, caller): IssueOperatorCertificateResponse => {
      if (!req.csrPem) throw grpcError(grpc.status.INVALID_ARGUMENT, "a certificate signing request (PEM) is required");
      return ctx.signOperatorCertificate(req.csrPem, req.name, caller);
    }),

    createConfig: handler("createConfig", Where.LEADER, async (req: CreateConfigRequest): Promise<CreateConfigResponse> => {
      const spec = validateConfigSpec(req.spec);
      const name = spec.annotations!.name;
      const committed = await ctx.store.update((tx) => tx.create("config", { id: newId(), spec })).catch((err: unknown) => {
        // Ids are fresh, so the only thing already taken can be the (unique) name.
        if (err instanceof StoreError && err.code === StoreErrorCode.ALREADY_EXISTS) {
          throw grpcError(grpc.status.ALREADY_EXISTS, `config name ${JSON.stringify(name)} already exists`);
        }
        throw err;
      });
      return { config: committed.changes.find((c) => c.table === "config")?.object as Config };
    }),

    getConfig: handler("getConfig", Where.LEADER_IF_ANY, (req: GetConfigRequest): GetConfigResponse => ({ config: resolveConfig(req.config) })),

    listConfigs: handler("listConfigs", Where.LEADER_IF_ANY, (): ListConfigsResponse => ({ configs: ctx.store.view((tx) => tx.list("config")) })),

    removeConfig: handler("removeConfig", Where.LEADER, async (req: RemoveConfigRequest): Promise<RemoveConfigResponse> => {
      if (!req.configId) throw grpcError(grpc.status.INVALID_ARGUMENT, "a config id is required");
      await ctx.store.update((tx) => tx.delete("config", req.configId));
      return {};
    }),
  };
}
