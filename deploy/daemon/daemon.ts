/**
 * The node daemon: initializes a cluster, joins one, or restarts from its data directory; runs
 * the manager runtime when the node is a manager; keeps a heartbeat session with the managers;
 * renews its certificate; serves the control API on an owner-only unix socket; and follows
 * promotions and demotions while it runs.
 */
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { cpus, hostname as osHostname, totalmem } from "node:os";
import * as grpc from "@grpc/grpc-js";
import type { NodeDescription } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { ControlService } from "../../proto/gen/control.ts";
import { DispatcherService } from "../../proto/gen/dispatcher.ts";
import { RaftMembershipService, RaftService } from "../../proto/gen/raftrpc.ts";
import type { JoinResponse, RaftMember } from "../../proto/gen/raftrpc.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import {
  CertificateRenewer, CertRole, CLUSTER_CHANNEL_OPTIONS, clientCredentials, NO_CHANNELZ, createRootCA, DEFAULT_NODE_CERT_VALIDITY_MS,
  issueKeyAndCertificate, joinCluster, NodeCAService, newId, TlsIdentity,
} from "../../manager/ca/index.ts";
import { forceNewCluster } from "../../manager/raft/force-new-cluster.ts";
import type { DaemonFlags } from "./flags.ts";
import { UsageError } from "./flags.ts";
import { faultHookFromEnv } from "./file-faults.ts";
import type { FileFaultHook } from "./file-faults.ts";
import { installHttp2StreamTables } from "./http2-stream-table.ts";
import { ManagerRuntime, newNode, scratchStore } from "./manager-runtime.ts";
import { dataPaths, readCertificates, readNodeState, writeCertificates, writeNodeState } from "./node-state.ts";
import type { NodeState as LocalState } from "./node-state.ts";
import { Session } from "./session.ts";
import { Switchboard } from "./switchboard.ts";
import { ClusterListener } from "./cluster-listener.ts";
import { UnaryServer } from "../../manager/controlapi/h2/unary-server.ts";

/** A daemon's servers: grpc-js's and the switchboards of their services, behind the TCP listener and on the local socket. */
interface Servers {
  /** grpc-js on the TCP port (through `listener`): every connection but operators'. */
  server: grpc.Server;
  /** grpc-js on the owner-only unix socket. */
  localServer: grpc.Server;
  /** The services of the TCP port, for grpc-js and the control API's own server alike. */
  tcpBoard: Switchboard;
  /** The services of the unix socket. */
  localBoard: Switchboard;
  /** The TCP port: operators' connections to the control API's own server, the others to `server`. */
  listener: ClusterListener;
}

/** Settings tests shorten; production uses the defaults. */
export interface DaemonTuning {
  /** Raft tick (default 100 ms). */
  tickMs?: number;
  /** Node heartbeat period (default 5 s). */
  heartbeatPeriodMs?: number;
  /** Validity of issued node certificates (default 90 days). */
  certValidityMs?: number;
  /** Applied entries between snapshots of the store (default 10,000). */
  snapshotInterval?: number;
  /** Cuts Raft traffic in process tests (from SHOAL_FAULTS_FILE). */
  faults?: FileFaultHook;
}

/** Where the daemon writes what it has to say. */
export type DaemonLog = (line: string) => void;

/** A running node. */
export class Daemon {
  private manager: ManagerRuntime | undefined;
  private session: Session | undefined;
  private renewer: CertificateRenewer | undefined;
  private changingRole = false;

  private constructor(
    private readonly flags: DaemonFlags,
    private state: LocalState,
    private readonly identity: TlsIdentity,
    private readonly servers: Servers,
    private readonly tuning: DaemonTuning,
    private readonly log: DaemonLog,
  ) {}

  /** Starts a node as its flags say. Rejects with a clear error when it cannot. */
  static async start(flags: DaemonFlags, tuning: DaemonTuning = {}, log: DaemonLog = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<Daemon> {
    // Before any server or connection is made: every call goes through HTTP/2 sessions.
    installHttp2StreamTables();
    mkdirSync(flags.dataDir, { recursive: true, mode: 0o700 });
    const existing = readNodeState(flags.dataDir);
    const mode = flags.mode;
    if (mode.kind !== "restart" && existing) {
      throw new UsageError(`${flags.dataDir} already holds node ${existing.nodeId} of cluster ${existing.clusterId}; start it with: shoald --data-dir ${flags.dataDir}`);
    }
    if (mode.kind === "restart" && !existing) {
      throw new UsageError(`${flags.dataDir} holds no node: use --init to start a cluster, or --join-addr and --join-token to join one`);
    }
    tuning = { ...tuning, faults: tuning.faults ?? faultHookFromEnv(env) };
    let d: Daemon;
    if (mode.kind === "init") d = await Daemon.init(flags, tuning, log);
    else if (mode.kind === "join") d = await Daemon.join(flags, mode.joinAddr, mode.joinToken, tuning, log);
    else d = await Daemon.restart(flags, existing!, mode.forceNewCluster, tuning, log);
    d.startSession();
    d.startRenewer();
    return d;
  }

  private static description(flags: DaemonFlags, state?: LocalState): NodeDescription {
    return {
      hostname: flags.hostname ?? state?.hostname ?? osHostname(),
      platform: { os: process.platform, architecture: process.arch === "x64" ? "amd64" : process.arch },
      resources: { nanoCpus: cpus().length * 1e9, memoryBytes: totalmem(), pids: 0 },
      engineLabels: {},
    };
  }

  private static async listen(flags: DaemonFlags, listenAddr: string, identity: TlsIdentity): Promise<Servers> {
    const server = new grpc.Server(NO_CHANNELZ);
    const tcpBoard = new Switchboard(server, [RaftService, RaftMembershipService, NodeCAService, DispatcherService, ControlService]);
    const listener = await ClusterListener.listen(listenAddr, identity, server, new UnaryServer((path) => tcpBoard.unaryMethod(path)));
    const localServer = new grpc.Server(NO_CHANNELZ);
    const localBoard = new Switchboard(localServer, [ControlService]);
    const socket = dataPaths(flags.dataDir).socket;
    rmSync(socket, { force: true });
    try {
      await new Promise<number>((resolve, reject) =>
        localServer.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    } catch (err) {
      listener.close();
      throw err;
    }
    chmodSync(socket, 0o600);
    return { server, localServer, tcpBoard, localBoard, listener };
  }

  private static async init(flags: DaemonFlags, tuning: DaemonTuning, log: DaemonLog): Promise<Daemon> {
    const listenAddr = flags.listenAddr!;
    const advertiseAddr = flags.advertiseAddr ?? listenAddr;
    const clusterId = newId();
    const nodeId = newId();
    const rootCa = await createRootCA(clusterId);
    const validity = tuning.certValidityMs ?? DEFAULT_NODE_CERT_VALIDITY_MS;
    const bundle = await issueKeyAndCertificate(rootCa, { role: CertRole.MANAGER, nodeId, clusterId }, validity);
    writeCertificates(flags.dataDir, bundle);
    const identity = new TlsIdentity(bundle);
    const raftId = randomRaftId();
    const state: LocalState = { nodeId, clusterId, role: "manager", raftId, listenAddr, advertiseAddr, managers: [advertiseAddr], hostname: flags.hostname };
    const servers = await Daemon.listen(flags, listenAddr, identity);
    const d = new Daemon(flags, state, identity, servers, tuning, log);
    await d.startManager({ raftId, nodeId, addr: advertiseAddr });
    const m = d.manager!;
    await waitUntil("this manager to lead the new cluster", () => m.raft.isLeader, 10_000);
    await m.store.update((tx) => {
      tx.create("cluster", {
        id: clusterId,
        spec: { annotations: { name: "default", labels: {} }, caConfig: { nodeCertExpiryMs: validity } },
        rootCa,
        removedNodes: [],
        revokedOperators: [],
      });
      const self = newNode(nodeId, NodeRole.NODE_ROLE_MANAGER, Daemon.description(flags));
      tx.create("node", { ...self, status: { state: NodeState.NODE_STATE_READY, message: "", addr: advertiseAddr } });
    });
    writeNodeState(flags.dataDir, state);
    log(`cluster ${clusterId} initialized; this node ${nodeId} is its first manager, at ${advertiseAddr}`);
    return d;
  }

  private static async join(flags: DaemonFlags, joinAddr: string, token: string, tuning: DaemonTuning, log: DaemonLog): Promise<Daemon> {
    const listenAddr = flags.listenAddr!;
    const advertiseAddr = flags.advertiseAddr ?? listenAddr;
    let joined: Awaited<ReturnType<typeof joinCluster>>;
    try {
      joined = await joinCluster({ addr: joinAddr, token, description: Daemon.description(flags) });
    } catch (err) {
      const e = err as Partial<grpc.ServiceError> & Error;
      const why = e.code === grpc.status.UNAVAILABLE ? "no manager answers there" : (e.details || e.message);
      throw new Error(`cannot join the cluster through ${joinAddr}: ${why}`, { cause: err });
    }
    writeCertificates(flags.dataDir, joined);
    const identity = new TlsIdentity(joined);
    const isManager = joined.role === NodeRole.NODE_ROLE_MANAGER;
    const state: LocalState = {
      nodeId: joined.nodeId, clusterId: joined.clusterId, role: isManager ? "manager" : "worker",
      listenAddr, advertiseAddr, managers: [joinAddr], hostname: flags.hostname,
    };
    const servers = await Daemon.listen(flags, listenAddr, identity);
    const d = new Daemon(flags, state, identity, servers, tuning, log);
    if (isManager) await d.joinRaft(joinAddr);
    writeNodeState(flags.dataDir, d.state);
    log(`node ${joined.nodeId} joined cluster ${joined.clusterId} as a ${state.role}`);
    return d;
  }

  private static async restart(flags: DaemonFlags, state: LocalState, force: boolean, tuning: DaemonTuning, log: DaemonLog): Promise<Daemon> {
    const identity = new TlsIdentity(readCertificates(flags.dataDir));
    const servers = await Daemon.listen(flags, flags.listenAddr ?? state.listenAddr, identity);
    const d = new Daemon(flags, state, identity, servers, tuning, log);
    if (state.role === "manager") {
      if (force) {
        await forceNewCluster(dataPaths(flags.dataDir).raft, state.raftId!, scratchStore());
        log(`forced a new cluster from this node's data: ${state.nodeId} is now its only manager`);
      }
      await d.startManager();
    } else if (force) {
      throw new UsageError("--force-new-cluster needs a manager's data directory; this node is a worker");
    }
    log(`node ${state.nodeId} restarted as a ${state.role}`);
    return d;
  }

  /** This node's id. */
  get nodeId(): string {
    return this.state.nodeId;
  }

  /** The manager runtime, when this node is a manager. */
  get managerRuntime(): ManagerRuntime | undefined {
    return this.manager;
  }

  private async startManager(bootstrapAs?: RaftMember, peers?: RaftMember[]): Promise<void> {
    const m = await ManagerRuntime.start({
      nodeId: this.state.nodeId, raftId: this.state.raftId!, advertiseAddr: this.state.advertiseAddr,
      raftDir: dataPaths(this.flags.dataDir).raft, identity: this.identity, peers,
      tickMs: this.tuning.tickMs, heartbeatPeriodMs: this.tuning.heartbeatPeriodMs, faults: this.tuning.faults,
      snapshotInterval: this.tuning.snapshotInterval,
    }, bootstrapAs);
    this.manager = m;
    m.raft.onLeadershipChange((leading) => this.log(leading
      ? `this manager is now the leader (Raft term ${m.raft.term})`
      : `this manager is no longer the leader (Raft term ${m.raft.term})`));
    const services = m.services();
    this.servers.tcpBoard.install(services.tcp);
    this.servers.localBoard.install(services.local);
  }

  /** Asks the leader (through `via`) to add this manager to Raft, then starts the manager. */
  private async joinRaft(via: string): Promise<void> {
    const client = new grpc.Client(via, clientCredentials(this.identity), CLUSTER_CHANNEL_OPTIONS);
    const m = RaftMembershipService.join;
    try {
      const res = await new Promise<JoinResponse>((resolve, reject) =>
        client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { addr: this.state.advertiseAddr }, new grpc.Metadata(),
          { deadline: Date.now() + 15_000 }, (err: grpc.ServiceError | null, r?: JoinResponse) => (err ? reject(err) : resolve(r!))));
      rmSync(dataPaths(this.flags.dataDir).raft, { recursive: true, force: true });
      this.state = { ...this.state, role: "manager", raftId: res.raftId };
      await this.startManager(undefined, res.members);
    } finally {
      client.close();
    }
  }

  private startSession(): void {
    this.session = new Session({
      managers: this.state.managers,
      credentials: () => clientCredentials(this.identity),
      description: () => Daemon.description(this.flags, this.state),
      addr: this.state.advertiseAddr,
      onManagers: (managers) => {
        if (managers.join() !== this.state.managers.join()) {
          this.state = { ...this.state, managers };
          writeNodeState(this.flags.dataDir, this.state);
        }
      },
      onDesiredRole: (role) => void this.followRole(role),
    });
    this.session.start();
  }

  private startRenewer(): void {
    this.renewer = new CertificateRenewer({
      identity: this.identity,
      managerAddr: () => (this.manager ? this.state.advertiseAddr : this.state.managers[0]!),
      onRenewed: (bundle) => writeCertificates(this.flags.dataDir, bundle),
      onError: (err) => this.log(`certificate renewal failed (will retry): ${err.message}`),
    });
    this.renewer.start();
  }

  /** Follows a change of role the managers asked for (promotion or demotion). */
  private async followRole(role: NodeRole): Promise<void> {
    if (this.changingRole) return;
    const want = role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker";
    // Demoted: the managers no longer list this node among them (the leader removed it from Raft).
    const demoted = want === "worker" && this.manager !== undefined && !this.state.managers.includes(this.state.advertiseAddr);
    if (want === this.state.role && !demoted) return;
    // A manager to be demoted keeps its manager certificate until the leader has taken it out of
    // Raft; renewing earlier would cut it off from the other managers mid-way.
    if (want === "worker" && !demoted) return;
    this.changingRole = true;
    try {
      await this.renewer!.renewNow();
      if (want === "manager") {
        await this.joinRaft(this.state.managers[0]!);
        this.log(`promoted: node ${this.state.nodeId} is now a manager`);
      } else {
        await this.stopManager();
        this.state = { ...this.state, role: "worker", raftId: undefined };
        this.log(`demoted: node ${this.state.nodeId} is now a worker`);
      }
      writeNodeState(this.flags.dataDir, this.state);
    } catch (err) {
      this.log(`role change to ${want} failed (will retry): ${(err as Error).message}`);
    } finally {
      this.changingRole = false;
    }
  }

  private async stopManager(): Promise<void> {
    this.servers.tcpBoard.clear();
    this.servers.localBoard.clear();
    const m = this.manager;
    this.manager = undefined;
    await m?.stop();
  }

  /** Stops the node: services, session, renewal, manager. */
  async stop(): Promise<void> {
    this.session?.stop();
    this.renewer?.stop();
    this.tuning.faults?.close();
    await this.stopManager();
    this.servers.listener.close();
    this.servers.server.forceShutdown();
    this.servers.localServer.forceShutdown();
    rmSync(dataPaths(this.flags.dataDir).socket, { force: true });
  }
}

/** A random raft id: 48 bits, safe as a JS number, never 0. */
function randomRaftId(): number {
  return 1 + Math.floor(Math.random() * (2 ** 48 - 1));
}

async function waitUntil(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
