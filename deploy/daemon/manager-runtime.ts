/**
 * Everything a manager runs: durable Raft, the replicated store, the gRPC services other nodes
 * call (Raft, Raft membership, the CA, the dispatcher's heartbeats, the control API) and the
 * leader-only loops (promoting caught-up managers, demoting, judging heartbeats).
 */
import type * as grpc from "@grpc/grpc-js";
import type { ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Cluster, Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import type { JoinRequest, JoinResponse, RaftMember } from "../../proto/gen/raftrpc.ts";
import { RaftMembershipService, RaftService } from "../../proto/gen/raftrpc.ts";
import { ControlService } from "../../proto/gen/control.ts";
import { DispatcherService } from "../../proto/gen/dispatcher.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import {
  Authorizer, CertRole, CLUSTER_CHANNEL_OPTIONS, clientCredentials, createNodeCAService, NodeCAService, RpcPolicy,
  signOperatorCertificate,
} from "../../manager/ca/index.ts";
import type { CABackend, CertIdentity, NodeRegistration, TlsIdentity } from "../../manager/ca/index.ts";
import { createControlService } from "../../manager/controlapi/server.ts";
import { toGrpcError } from "../../manager/controlapi/errors.ts";
import { LeaderForwarder, unavailable, wasForwarded } from "../../manager/controlapi/forward.ts";
import { Heartbeats } from "../../manager/dispatcher/heartbeats.ts";
import { LevelStorage } from "../../manager/raft/level-storage.ts";
import { RaftNode } from "../../manager/raft/raft-node.ts";
import { GrpcTransport } from "../../manager/raft/transport.ts";
import type { FaultHook } from "../../manager/raft/transport.ts";
import { MemoryStore } from "../../manager/store/index.ts";
import type { ApplyResult } from "../../manager/store/index.ts";

/** How often the leader looks for learners to promote and managers to demote. */
const RECONCILE_INTERVAL_MS = 250;

/** What a manager runtime is started with. */
export interface ManagerRuntimeOptions {
  /** This node. */
  nodeId: string;
  /** This manager's raft id. */
  raftId: number;
  /** Where other managers reach this one (the Raft and API address). */
  advertiseAddr: string;
  /** Raft storage directory. */
  raftDir: string;
  /** This node's certificate and key. */
  identity: TlsIdentity;
  /** For a manager joining with empty storage: the members the leader named. */
  peers?: RaftMember[];
  /** Milliseconds per Raft tick (default 100). */
  tickMs?: number;
  /** Heartbeat period for nodes (default 5 s). */
  heartbeatPeriodMs?: number;
  /** Applied entries between snapshots of the store (default 10,000). */
  snapshotInterval?: number;
  /** Cuts traffic in process tests. */
  faults?: FaultHook;
}

/** A running manager. */
export class ManagerRuntime {
  /** The replicated store. */
  readonly store: MemoryStore;
  /** The Raft node. */
  readonly raft: RaftNode<ApplyResult>;
  private readonly storage: LevelStorage;
  private readonly transport: GrpcTransport;
  private readonly forwarder: LeaderForwarder;
  private readonly heartbeats: Heartbeats;
  private readonly authorizer: Authorizer;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling = false;

  private constructor(private readonly opts: ManagerRuntimeOptions, storage: LevelStorage) {
    this.storage = storage;
    // The store proposes through the Raft node, which applies to the store: the proposer is
    // bound lazily to break the cycle.
    this.store = new MemoryStore({ proposer: { propose: (data, signal) => this.raft.propose(data, signal) } });
    const raft = new RaftNode<ApplyResult>({ raftId: opts.raftId, storage, stateMachine: this.store, tickMs: opts.tickMs, peers: opts.peers,
      snapshotInterval: opts.snapshotInterval });
    this.raft = raft;
    this.authorizer = new Authorizer(this.caBackend());
    const credentials = clientCredentials(opts.identity);
    this.transport = new GrpcTransport({
      raftId: opts.raftId, members: raft.members, sink: raft, credentials, channelOptions: CLUSTER_CHANNEL_OPTIONS, faults: opts.faults,
    });
    raft.setTransport(this.transport);
    this.forwarder = new LeaderForwarder({
      leaderAddr: () => this.leaderAddr(),
      credentials: () => credentials,
      channelOptions: CLUSTER_CHANNEL_OPTIONS,
      blocked: (addr) => opts.faults?.blocks(addr) ?? false,
    });
    this.heartbeats = new Heartbeats({
      store: this.store,
      isLeader: () => raft.isLeader,
      leaderAddr: () => this.leaderAddr(),
      managerAddrs: () => this.managerAddrs(),
      authorize: (call) => this.authorizer.authorize(call, RpcPolicy.dispatcher).nodeId,
      periodMs: opts.heartbeatPeriodMs,
    });
    raft.onLeadershipChange((leading) => (leading ? this.startLeading() : this.stopLeading()));
  }

  /**
   * Opens the manager's storage and starts it. With `bootstrapAs`, the storage (empty) first
   * becomes a new cluster whose only member is that one.
   */
  static async start(opts: ManagerRuntimeOptions, bootstrapAs?: RaftMember): Promise<ManagerRuntime> {
    const storage = await LevelStorage.open(opts.raftDir);
    if (bootstrapAs) await RaftNode.bootstrap(storage, bootstrapAs, scratchStore());
    const m = new ManagerRuntime(opts, storage);
    m.raft.start();
    return m;
  }

  /** The leader's address, undefined when there is none. */
  leaderAddr(): string | undefined {
    const leader = this.raft.leader;
    return leader ? this.raft.members.get(leader)?.addr : undefined;
  }

  /** Every manager's address, the leader's first. */
  managerAddrs(): string[] {
    const leader = this.leaderAddr();
    const all = this.raft.members.list().map((m) => m.addr);
    return leader ? [leader, ...all.filter((a) => a !== leader)] : all;
  }

  /** The cluster object (undefined until the first leader created it). */
  cluster(): Cluster | undefined {
    return this.store.view((tx) => tx.list("cluster"))[0];
  }

  private caBackend(): CABackend {
    return {
      // Until this manager's store holds the cluster (a joining manager waits for its first
      // snapshot), it trusts what it joined with: the root CA it pinned and the cluster id in it.
      cluster: () => this.cluster() ?? {
        id: this.opts.identity.identity.clusterId,
        rootCa: { caCertPem: this.opts.identity.bundle.caCertPem, caKeyPem: "", caCertDigest: "" },
        removedNodes: [],
        revokedOperators: [],
      },
      isRemoved: (nodeId) => this.cluster()?.removedNodes.includes(nodeId) ?? false,
      registerNode: (reg) => this.registerNode(reg),
      nodeRole: (nodeId) => this.store.view((tx) => tx.get("node", nodeId))?.spec?.desiredRole,
    };
  }

  private async registerNode(reg: NodeRegistration): Promise<void> {
    await this.store.update((tx) => {
      const cluster = tx.list("cluster")[0];
      if (cluster?.removedNodes.includes(reg.nodeId)) throw unavailable(`node id ${reg.nodeId} was used before and is never reused`);
      tx.create("node", newNode(reg.nodeId, reg.role, reg.description));
    });
  }

  private authorize(call: ServerUnaryCall<unknown, unknown>, policy: readonly CertRole[]): string {
    const id: CertIdentity = this.authorizer.authorize(call, policy);
    return id.role === CertRole.OPERATOR ? `operator:${id.operator}` : id.nodeId;
  }

  /**
   * The services this manager answers: on the TCP server (mutual TLS; each RPC checks the
   * caller's certificate) and on the owner-only unix socket (the local CLI).
   */
  services(): { tcp: [ServiceDefinition, UntypedServiceImplementation][]; local: [ServiceDefinition, UntypedServiceImplementation][] } {
    const ca = createNodeCAService(this.caBackend());
    const caService: UntypedServiceImplementation = {
      ...ca,
      // Issuing writes the new node into the store: only the leader can, so followers pass it on.
      issueNodeCertificate: (call: Parameters<typeof ca.issueNodeCertificate>[0], callback: Parameters<typeof ca.issueNodeCertificate>[1]) => {
        if (this.raft.isLeader || wasForwarded(call)) return ca.issueNodeCertificate(call, callback);
        this.forwarder.call(NodeCAService.issueNodeCertificate, call.request).then((r) => callback(null, r), (e: unknown) => callback(toGrpcError(e)));
      },
    };
    const control = (authorize: (call: ServerUnaryCall<unknown, unknown>) => CertIdentity | undefined) => createControlService({
      store: this.store,
      selfNodeId: this.opts.nodeId,
      raft: this.raft,
      forwarder: this.forwarder,
      authorize,
      signOperatorCertificate: (csrPem, name, caller) => signOperatorCertificate(this.caBackend().cluster(), csrPem, name || "operator", caller),
    });
    return {
      tcp: [
        [RaftService, this.transport.serviceImplementation((call) => {
          this.authorize(call as unknown as ServerUnaryCall<unknown, unknown>, RpcPolicy.raft);
        })],
        [RaftMembershipService, { join: this.joinHandler() }],
        [NodeCAService, caService],
        [DispatcherService, this.heartbeats.service()],
        [ControlService, control((call) => this.authorizer.authorize(call, RpcPolicy.control))],
      ],
      // The unix socket is owner-only: whoever can open it is root on this machine.
      local: [[ControlService, control(() => undefined)]],
    };
  }

  private joinHandler(): grpc.handleUnaryCall<JoinRequest, JoinResponse> {
    return (call, callback) => {
      Promise.resolve()
        .then(async () => {
          const nodeId = this.authorize(call as ServerUnaryCall<unknown, unknown>, RpcPolicy.raft);
          if (!this.raft.isLeader) {
            if (wasForwarded(call)) throw unavailable("this manager is not the leader either; retry shortly");
            return this.forwarder.call(RaftMembershipService.join, call.request);
          }
          const raftId = await this.raft.addLearner(nodeId, call.request.addr);
          return { raftId, members: this.raft.members.list() };
        })
        .then((res) => callback(null, res), (err: unknown) => callback(toGrpcError(err)));
    };
  }

  private startLeading(): void {
    this.heartbeats.startLeading();
    this.reconcileTimer = setInterval(() => void this.reconcile(), RECONCILE_INTERVAL_MS);
  }

  private stopLeading(): void {
    this.heartbeats.stopLeading();
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.reconcileTimer = undefined;
  }

  /** On the leader: promote caught-up learners; remove managers whose desired role is worker. */
  private async reconcile(): Promise<void> {
    if (this.reconciling || !this.raft.isLeader) return;
    this.reconciling = true;
    try {
      await this.raft.promoteCaughtUpLearners();
      const nodes = this.store.view((tx) => tx.list("node"));
      for (const member of this.raft.members.list()) {
        const node = nodes.find((n) => n.id === member.nodeId);
        if (node?.spec?.desiredRole !== NodeRole.NODE_ROLE_WORKER) continue;
        if (member.raftId === this.raft.raftId) {
          // The leader demotes itself by handing leadership over first.
          const other = this.raft.members.list().find((m) => m.raftId !== member.raftId && this.raft.memberReachable(m.raftId));
          if (other) await this.raft.transferLeadership(other.raftId);
          return;
        }
        await this.raft.removeMember(member.raftId);
        await this.store.update((tx) => {
          const current = tx.get("node", node.id);
          if (current) tx.update("node", { ...current, role: NodeRole.NODE_ROLE_WORKER });
        });
      }
    } catch {
      // Retried on the next round; errors here are transient (leadership moved, quorum lost).
    } finally {
      this.reconciling = false;
    }
  }

  /** Stops everything this manager runs. */
  async stop(): Promise<void> {
    this.stopLeading();
    await this.raft.stop();
    this.transport.close();
    this.forwarder.close();
    await this.storage.close();
  }
}

/** A store that is only read and restored, never written through Raft (bootstrap, recovery). */
export function scratchStore(): MemoryStore {
  return new MemoryStore({ proposer: { propose: () => Promise.reject(new Error("a scratch store does not propose")) } });
}

/** A Node object for a node that just joined (or the first manager). */
export function newNode(nodeId: string, role: NodeRole, description: Node["description"]): Node {
  return {
    id: nodeId,
    spec: { annotations: { name: "", labels: {} }, desiredRole: role, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description,
    status: { state: NodeState.NODE_STATE_UNKNOWN, message: "", addr: "" },
    role,
  };
}
