/**
 * Test support for the CLI: a fake control API (a real grpc-js server, on a unix socket and/or
 * over mutual TLS, answering from canned objects with the semantics the real one has: name
 * resolution, version checks, refusals) that records every request, and a way to run the CLI
 * in-process and capture what a user would see.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { afterEach, beforeEach } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import type { handleUnaryCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { serverCredentials, CertRole, DEFAULT_NODE_CERT_VALIDITY_MS, issueCertificate } from "../../manager/ca/index.ts";
import type { SigningCA, TlsIdentity } from "../../manager/ca/index.ts";
import { ControlService } from "../../proto/gen/control.ts";
import type { Cluster, Config, Node } from "../../proto/gen/objects.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import type { Env } from "./connection.ts";
import { CONTROL_SOCKET_NAME } from "./connection.ts";
import type { Input } from "./command.ts";
import type { ControlMethod, ControlRequest, ControlResponse } from "./control-client.ts";
import type { ExitCode } from "./errors.ts";
import { runCli } from "./run.ts";

/** One request the fake received. */
export interface RecordedCall {
  method: ControlMethod;
  request: unknown;
  /** The CN of the client certificate, over TLS. */
  peer?: string;
}

/** A gRPC status the fake answers with. */
export class FakeStatus extends Error {
  /** `details` is what the CLI must show. */
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
  }
}

/** What the fake serves. */
export interface Fixture {
  cluster: Cluster;
  nodes: Node[];
  configs: Config[];
  selfNodeId: string;
}

/** A node for fixtures. */
function node(id: string, hostname: string, role: NodeRole, state: NodeState, availability: NodeAvailability, managerStatus?: Node["managerStatus"]): Node {
  return {
    id,
    meta: { version: 10, createdAt: Date.UTC(2025, 0, 2, 3, 4, 5), updatedAt: Date.UTC(2025, 0, 2, 3, 4, 6) },
    spec: { annotations: { name: "", labels: {} }, desiredRole: role, availability },
    description: { hostname, engineLabels: {} },
    status: { state, message: "", addr: `10.0.0.${id.charCodeAt(0) % 50}` },
    managerStatus,
    role,
  };
}

/** Ids of the {@link sampleFixture} nodes. */
export const Ids = {
  LEADER: "m1leader00000000000000000",
  FOLLOWER: "m2follower000000000000000",
  WORKER9: "w9worker00000000000000000",
  WORKER10: "w10worker0000000000000000",
  /** The config named `web.conf`. */
  WEB_CONF: "cfgweb0000000000000000000",
  /** The config named `app10`. */
  APP10: "cfgapp1000000000000000000",
} as const;

/** When the {@link sampleFixture} configs were made (and, for the CLI's ages, a clock 3 hours later). */
export const CONFIG_TIME = Date.UTC(2025, 0, 2, 3, 4, 5);

/** A config for fixtures. */
function config(id: string, name: string, data: string, labels: Record<string, string> = {}): Config {
  return { id, meta: { version: 20, createdAt: CONFIG_TIME, updatedAt: CONFIG_TIME + 60_000 }, spec: { annotations: { name, labels }, data: Buffer.from(data) } };
}

/**
 * A cluster of two managers (the leader answers) and two workers, one of them down and drained;
 * a misbehaving server that sends the CA key, to show the CLI never prints it.
 */
export function sampleFixture(): Fixture {
  const M = NodeRole.NODE_ROLE_MANAGER;
  const W = NodeRole.NODE_ROLE_WORKER;
  const READY = NodeState.NODE_STATE_READY;
  const leader = node(Ids.LEADER, "mgr-1", M, READY, NodeAvailability.NODE_AVAILABILITY_ACTIVE, { raftId: 1, addr: "10.0.0.1:4242", leader: true, reachable: true });
  leader.spec!.annotations!.labels = { zone: "a", disk: "ssd" };
  leader.description = { ...leader.description!, platform: { os: "linux", architecture: "x86_64" }, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30, pids: 0 } };
  return {
    selfNodeId: Ids.LEADER,
    configs: [config(Ids.APP10, "app10", "debug: false\n"), config(Ids.WEB_CONF, "web.conf", "listen 80;\n", { tier: "front", app: "web" })],
    nodes: [
      node(Ids.WORKER10, "worker-10", W, NodeState.NODE_STATE_DOWN, NodeAvailability.NODE_AVAILABILITY_DRAIN),
      leader,
      node(Ids.WORKER9, "worker-9", W, READY, NodeAvailability.NODE_AVAILABILITY_PAUSE),
      node(Ids.FOLLOWER, "mgr-2", M, READY, NodeAvailability.NODE_AVAILABILITY_ACTIVE, { raftId: 2, addr: "10.0.0.2:4242", leader: false, reachable: false }),
    ],
    cluster: {
      id: "c1cluster0000000000000000",
      meta: { version: 7, createdAt: 1, updatedAt: 2 },
      spec: { annotations: { name: "default", labels: {} } },
      removedNodes: [], revokedOperators: [],
      rootCa: {
        caCertPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        caKeyPem: "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n",
        caCertDigest: "d1gest",
        joinTokens: { worker: "SHOAL-1-d1gest-worker0", manager: "SHOAL-1-d1gest-manager0" },
      },
    },
  };
}

/** The CLI's fake counterpart; see the file comment. */
export class FakeControl {
  readonly calls: RecordedCall[] = [];
  /** Methods that fail, with the status they fail with. */
  readonly failures = new Map<ControlMethod, FakeStatus>();
  /** Signs operator certificates when set (else IssueOperatorCertificate is UNIMPLEMENTED). */
  signer?: SigningCA & { clusterId: string };
  readonly #server = new Server();
  readonly #dir = mkdtempSync(join(tmpdir(), "shoal-cli-"));
  #rotations = 0;
  #created = 0;

  /** Serves `fixture`, which it changes as updates come. */
  constructor(readonly state: Fixture = sampleFixture()) {
    this.#server.addService(ControlService, this.#handlers());
  }

  /** The requests made to `method`, in order. */
  requests<K extends ControlMethod>(method: K): ControlRequest<K>[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.request as ControlRequest<K>);
  }

  /** Listens on a unix socket in a temporary directory; resolves to the `-H` value for it. */
  async listenUnix(): Promise<string> {
    const host = `unix://${join(this.#dir, CONTROL_SOCKET_NAME)}`;
    await this.#bind(host, ServerCredentials.createInsecure());
    return host;
  }

  /** Listens on 127.0.0.1 over TLS presenting `identity`; resolves to the `-H` value for it. */
  async listenTls(identity: TlsIdentity): Promise<string> {
    const port = await this.#bind("127.0.0.1:0", serverCredentials(identity));
    return `tcp://127.0.0.1:${port}`;
  }

  /** Stops serving and removes the socket's directory. */
  close(): void {
    this.#server.forceShutdown();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #bind(target: string, creds: ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => this.#server.bindAsync(target, creds, (err, port) => (err ? reject(err) : resolve(port))));
  }

  /** Node `ref`: by id, unique id prefix or hostname, as the real server resolves it. */
  #find(ref: string): Node {
    const nodes = this.state.nodes;
    const exact = nodes.find((n) => n.id === ref);
    if (exact) return exact;
    for (const matches of [nodes.filter((n) => n.id.startsWith(ref)), nodes.filter((n) => n.description?.hostname === ref)]) {
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new FakeStatus(status.FAILED_PRECONDITION, `node ${ref} is ambiguous (${matches.length} matches)`);
    }
    throw new FakeStatus(status.NOT_FOUND, `node ${ref} not found`);
  }

  /** Config `ref`: by id, name (in any case) or unique id prefix, as the real server resolves it. */
  #findConfig(ref: string): Config {
    const configs = this.state.configs;
    const ways = [(c: Config) => c.id === ref, (c: Config) => c.spec?.annotations?.name.toLowerCase() === ref.toLowerCase(), (c: Config) => c.id.startsWith(ref)];
    for (const way of ways) {
      const matches = configs.filter(way);
      if (matches.length === 1) return matches[0]!;
      if (matches.length > 1) throw new FakeStatus(status.FAILED_PRECONDITION, `config ${ref} is ambiguous (${matches.length} matches)`);
    }
    throw new FakeStatus(status.NOT_FOUND, `config ${ref} not found`);
  }

  /** Refuses a write whose version is not the object's. */
  static #checkVersion(what: string, current: { version: number } | undefined, given: number): void {
    if (current?.version !== given) throw new FakeStatus(status.ABORTED, `update out of sequence: ${what} is at version ${current?.version}, the update read ${given}`);
    current.version++;
  }

  #unary<K extends ControlMethod>(method: K, handle: (request: ControlRequest<K>) => ControlResponse<K>): handleUnaryCall<ControlRequest<K>, ControlResponse<K>> {
    return (call, callback) => {
      const cn = call.getAuthContext().sslPeerCertificate?.subject?.CN;
      this.calls.push({ method, request: call.request, peer: typeof cn === "string" ? cn : undefined });
      try {
        const failure = this.failures.get(method);
        if (failure) throw failure;
        callback(null, handle(call.request));
      } catch (err) {
        if (!(err instanceof FakeStatus)) throw err;
        callback({ code: err.code, details: err.details });
      }
    };
  }

  #handlers(): UntypedServiceImplementation {
    const s = this.state;
    return {
      getCluster: this.#unary("getCluster", () => ({ cluster: s.cluster })),
      updateCluster: this.#unary("updateCluster", (req) => {
        FakeControl.#checkVersion("the cluster", s.cluster.meta, req.version);
        const tokens = s.cluster.rootCa!.joinTokens!;
        if (req.rotateWorkerToken) tokens.worker = `SHOAL-1-d1gest-worker${++this.#rotations}`;
        if (req.rotateManagerToken) tokens.manager = `SHOAL-1-d1gest-manager${++this.#rotations}`;
        s.cluster.revokedOperators = [...new Set([...s.cluster.revokedOperators, ...req.revokeOperators])];
        return { cluster: s.cluster };
      }),
      listNodes: this.#unary("listNodes", (req) => ({
        nodes: s.nodes.filter((n) => req.roles.length === 0 || req.roles.includes(n.role)),
        selfNodeId: s.selfNodeId,
      })),
      getNode: this.#unary("getNode", (req) => ({ node: this.#find(req.node) })),
      updateNode: this.#unary("updateNode", (req) => {
        const found = s.nodes.find((n) => n.id === req.nodeId);
        if (!found) throw new FakeStatus(status.NOT_FOUND, `node ${req.nodeId} not found`);
        FakeControl.#checkVersion(`node ${req.nodeId}`, found.meta, req.version);
        found.spec = req.spec;
        return { node: found };
      }),
      removeNode: this.#unary("removeNode", (req) => {
        const found = s.nodes.find((n) => n.id === req.nodeId);
        if (!found) throw new FakeStatus(status.NOT_FOUND, `node ${req.nodeId} not found`);
        if (found.status?.state === NodeState.NODE_STATE_READY && !req.force) {
          throw new FakeStatus(status.FAILED_PRECONDITION, `node ${req.nodeId} is not down and can't be removed; use --force`);
        }
        s.nodes.splice(s.nodes.indexOf(found), 1);
        return {};
      }),
      createConfig: this.#unary("createConfig", (req) => {
        const name = req.spec?.annotations?.name ?? "";
        if (!name) throw new FakeStatus(status.INVALID_ARGUMENT, "a config name is required");
        if (s.configs.some((c) => c.spec?.annotations?.name.toLowerCase() === name.toLowerCase())) {
          throw new FakeStatus(status.ALREADY_EXISTS, `config name ${JSON.stringify(name)} already exists`);
        }
        const created: Config = { id: `cfgnew${++this.#created}`.padEnd(25, "0"), meta: { version: 30, createdAt: 1, updatedAt: 1 }, spec: req.spec };
        s.configs.push(created);
        return { config: created };
      }),
      getConfig: this.#unary("getConfig", (req) => ({ config: this.#findConfig(req.config) })),
      listConfigs: this.#unary("listConfigs", () => ({ configs: s.configs })),
      removeConfig: this.#unary("removeConfig", (req) => {
        const found = s.configs.findIndex((c) => c.id === req.configId);
        if (found < 0) throw new FakeStatus(status.NOT_FOUND, `config ${req.configId} not found`);
        s.configs.splice(found, 1);
        return {};
      }),
      issueOperatorCertificate: this.#unary("issueOperatorCertificate", (req) => {
        if (!this.signer) throw new FakeStatus(status.UNIMPLEMENTED, "this fake has no CA");
        const identity = { role: CertRole.OPERATOR, operator: req.name, clusterId: this.signer.clusterId };
        return { certPem: issueCertificate(this.signer, req.csrPem, identity, DEFAULT_NODE_CERT_VALIDITY_MS), caCertPem: this.signer.caCertPem };
      }),
    };
  }
}

/** What a user sees from one run of the CLI. */
export interface CliResult {
  code: ExitCode;
  stdout: string;
  stderr: string;
}

/** What else a run of the CLI may be given. */
export interface RunOptions {
  /** Its standard input: a string, or chunks. */
  stdin?: string | Input;
  /** Its clock. */
  now?: () => number;
}

/** Runs the CLI in-process with `argv` and the environment `env` (and nothing of the process's). */
export async function shoal(argv: readonly string[], env: Env = {}, options: RunOptions = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
    stdin: typeof options.stdin === "string" ? [options.stdin] : options.stdin,
    now: options.now,
  });
  return { code, stdout, stderr };
}

/** A fresh fake per test, on a unix socket, and the CLI pointed at it. */
export interface FakeSession {
  /** The current test's fake. */
  readonly fake: FakeControl;
  /** Runs the CLI against it: `-H <socket>`, then the session's leading words, then `argv`. */
  run(...argv: string[]): Promise<CliResult>;
  /** {@link FakeSession.run} with standard input or a clock. */
  runWith(options: RunOptions, ...argv: string[]): Promise<CliResult>;
}

/** Registers hooks that give every test of the calling file its own fake; `words` lead every command (`["node"]`). */
export function fakePerTest(...words: string[]): FakeSession {
  let current: { fake: FakeControl; host: string } | undefined;
  beforeEach(async () => {
    const fake = new FakeControl();
    current = { fake, host: await fake.listenUnix() };
  });
  afterEach(() => current?.fake.close());
  return {
    get fake() {
      return current!.fake;
    },
    run: (...argv) => shoal(["-H", current!.host, ...words, ...argv]),
    runWith: (options, ...argv) => shoal(["-H", current!.host, ...words, ...argv], {}, options),
  };
}
