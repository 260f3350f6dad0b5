/**
 * The local lab: a multi-node cluster of real `shoald` processes on one machine, on loopback
 * addresses (127.0.0.1, .2, ...), each with its own data directory, killed and restarted for
 * real; a control client on each node's unix socket; a fault file per node to cut its Raft
 * traffic. Used by `npm run demo` and the process tests. Everything it starts is killed and
 * removed by `close()`, so nothing is left behind even when a test fails.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import type { Cluster, Node } from "../../proto/gen/objects.ts";
import { ControlClient } from "../cli/control-client.ts";
import { allocatorEnv } from "../daemon/allocator.ts";
import { dataPaths } from "../daemon/node-state.ts";
import { v8PoolFlag } from "../daemon/v8-pool.ts";

const SHOALD = fileURLToPath(new URL("../shoald.ts", import.meta.url));

/** A control API client with promise methods. */
export interface Control {
  getCluster(): Promise<Cluster>;
  listNodes(): Promise<{ nodes: Node[]; selfNodeId: string }>;
  getNode(node: string): Promise<Node>;
  updateCluster(req: { version: number; spec?: Cluster["spec"]; rotateWorkerToken?: boolean; rotateManagerToken?: boolean }): Promise<Cluster>;
  updateNode(nodeId: string, version: number, spec: NonNullable<Node["spec"]>): Promise<Node>;
  removeNode(nodeId: string, force: boolean): Promise<void>;
  close(): void;
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;
type UntypedClient = Record<string, (req: unknown, opts: grpc.CallOptions, cb: Callback<unknown>) => void> & { close(): void };

/** The CLI's client of the whole control API (with its error wording) on `n`'s socket; the caller closes it. */
export function cliControl(n: ProcessNode): ControlClient {
  return new ControlClient({ host: `${n.name}'s socket`, target: `unix://${n.socket}`, credentials: grpc.credentials.createInsecure(), options: {} });
}

/** Opens a control client on a unix socket. */
export function controlClient(socket: string, timeoutMs = 5000): Control {
  const Client = grpc.makeGenericClientConstructor(ControlService, "Control");
  const c = new Client(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as UntypedClient;
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => c[method]!(req, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T))));
  return {
    getCluster: async () => (await call<{ cluster: Cluster }>("getCluster", {})).cluster,
    listNodes: () => call("listNodes", { roles: [] }),
    getNode: async (node) => (await call<{ node: Node }>("getNode", { node })).node,
    updateCluster: async (req) => (await call<{ cluster: Cluster }>("updateCluster", { rotateWorkerToken: false, rotateManagerToken: false, ...req })).cluster,
    updateNode: async (nodeId, version, spec) => (await call<{ node: Node }>("updateNode", { nodeId, version, spec })).node,
    removeNode: async (nodeId, force) => void (await call("removeNode", { nodeId, force })),
    close: () => c.close(),
  };
}

/** One `shoald` process and its data directory. */
export interface ProcessNode {
  name: string;
  addr: string;
  dataDir: string;
  /** Its owner-only control socket. */
  socket: string;
  faultsFile: string;
  proc: ChildProcess | undefined;
  log: string[];
  control: Control;
}

/** Options of a process cluster. */
export interface ProcessClusterOptions {
  /** Extra environment for every daemon (e.g. SHOAL_CERT_VALIDITY_MS). */
  env?: Record<string, string>;
  /** Flags for the Node.js runtime of every daemon (e.g. `--trace-gc-nvp`, whose lines land in the node's log), after the V8 pool size the lab gives it (deploy/daemon/v8-pool.ts). */
  nodeFlags?: string[];
}

/** A set of `shoald` processes on loopback addresses. */
export class ProcessCluster {
  readonly nodes = new Map<string, ProcessNode>();
  private readonly root = mkdtempSync(join(tmpdir(), "shoal-proc-"));
  /**
   * One port for every node (each has its own loopback address), below Linux's ephemeral range
   * (32768 and up by default), where an outgoing connection's local port could already hold it.
   */
  private readonly port = 20000 + Math.floor(Math.random() * 12000);
  private nextIp = 1;

  constructor(private readonly opts: ProcessClusterOptions = {}) {}

  /** The node called `name`. */
  get(name: string): ProcessNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private spawnDaemon(n: ProcessNode, args: string[]): void {
    const proc = spawn(process.execPath, [v8PoolFlag(), ...(this.opts.nodeFlags ?? []), "--import", "tsx", SHOALD, "--data-dir", n.dataDir, ...args], {
      env: { ...process.env, ...allocatorEnv(process.env), SHOAL_HEARTBEAT_MS: "1000", SHOAL_FAULTS_FILE: n.faultsFile, ...this.opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    n.proc = proc;
    // Whole lines, also when a line arrives in two reads.
    for (const output of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: output, crlfDelay: Infinity }).on("line", (line) => void (line && n.log.push(line)));
    }
  }

  /** Starts the first manager with --init. */
  async init(name: string): Promise<ProcessNode> {
    const n = this.add(name);
    this.spawnDaemon(n, ["--listen-addr", n.addr, "--init", "--hostname", name]);
    await this.waitForLog(n, /initialized/);
    return n;
  }

  /** Starts a node that joins through `via` with the token for `role`. */
  async join(name: string, via: string, role: "worker" | "manager"): Promise<ProcessNode> {
    const cluster = await this.get(via).control.getCluster();
    const token = role === "worker" ? cluster.rootCa!.joinTokens!.worker : cluster.rootCa!.joinTokens!.manager;
    return this.joinWithToken(name, this.get(via).addr, token);
  }

  /** Starts a node that joins at `joinAddr` with `token`; resolves when it says it joined. */
  async joinWithToken(name: string, joinAddr: string, token: string): Promise<ProcessNode> {
    const n = this.add(name);
    this.spawnDaemon(n, ["--listen-addr", n.addr, "--join-addr", joinAddr, "--join-token", token, "--hostname", name]);
    await this.waitForLog(n, /joined cluster/);
    return n;
  }

  private add(name: string): ProcessNode {
    const ip = `127.0.0.${this.nextIp++}`;
    const dataDir = join(this.root, name);
    const { socket } = dataPaths(dataDir);
    const n: ProcessNode = {
      name, addr: `${ip}:${this.port}`, dataDir, socket, faultsFile: join(this.root, `${name}.faults.json`), proc: undefined, log: [],
      control: controlClient(socket),
    };
    this.nodes.set(name, n);
    return n;
  }

  /** Waits until the node's output matches `pattern`; fails with its output if it exits first. */
  async waitForLog(n: ProcessNode, pattern: RegExp, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!n.log.some((l) => pattern.test(l))) {
      if (n.proc?.exitCode !== null && n.proc?.exitCode !== undefined) throw new Error(`${n.name} exited (${n.proc.exitCode}): ${n.log.join("\n")}`);
      if (Date.now() > deadline) throw new Error(`${n.name} did not log ${pattern} in ${ms} ms: ${n.log.join("\n")}`);
      await sleep(25);
    }
  }

  /** Kills the node's process with `signal` and waits for it to exit. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const n = this.get(name);
    const proc = n.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await exited;
  }

  /** Restarts a stopped node from its data directory (`extra` adds flags). */
  async restart(name: string, extra: string[] = []): Promise<void> {
    const n = this.get(name);
    n.log = [];
    this.spawnDaemon(n, extra);
    await this.waitForLog(n, /restarted as/);
  }

  /** Cuts (or, with an empty list, heals) the Raft traffic of `name` with the nodes in `others`. */
  cut(name: string, others: string[]): void {
    writeFileSync(this.get(name).faultsFile, JSON.stringify(others.map((o) => this.get(o).addr)));
    for (const o of others) {
      const peer = this.get(o);
      writeFileSync(peer.faultsFile, JSON.stringify([this.get(name).addr]));
    }
  }

  /** Heals every cut. */
  heal(): void {
    for (const n of this.nodes.values()) writeFileSync(n.faultsFile, "[]");
  }

  /** The node whose process is running and which the others agree leads, or undefined. */
  async leader(names: string[]): Promise<string | undefined> {
    for (const name of names) {
      try {
        const { nodes } = await this.get(name).control.listNodes();
        const leader = nodes.find((x) => x.managerStatus?.leader);
        if (leader) return leader.description?.hostname;
      } catch {
        // not answering: try the next one
      }
    }
    return undefined;
  }

  /** The leader among `names` (see {@link leader}), waiting up to `ms` for one. */
  awaitLeader(names: string[], ms = 10_000): Promise<string> {
    return eventually("a leader", async () => {
      const leader = await this.leader(names);
      if (!leader) throw new Error("no leader yet");
      return leader;
    }, ms);
  }

  /** Resolves once the node `via` sees `count` managers reachable, waiting up to `ms`. */
  async awaitManagersReachable(via: string, count: number, ms = 30_000): Promise<void> {
    await eventually(`${count} managers reachable`, async () => {
      const { nodes } = await this.get(via).control.listNodes();
      const reachable = nodes.filter((n) => n.managerStatus?.reachable).length;
      if (reachable !== count) throw new Error(`${reachable} reachable`);
    }, ms);
  }

  /** Kills every process and removes every directory. */
  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      n.control.close();
      await this.kill(n.name);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Reads the cluster object through `control` and writes it back with label `key` = `value`, from
 * the version read: one attempt, which fails with ABORTED when the object changed meanwhile.
 */
export async function labelCluster(control: Control, key: string, value: string): Promise<Cluster> {
  const c = await control.getCluster();
  const spec = { ...c.spec!, annotations: { name: c.spec?.annotations?.name ?? "default", labels: { ...c.spec?.annotations?.labels, [key]: value } } };
  return control.updateCluster({ version: c.meta!.version, spec });
}

/** {@link labelCluster}, retried while it conflicts with other writes. */
export async function writeLabel(control: Control, key: string, value: string): Promise<Cluster> {
  for (;;) {
    try {
      return await labelCluster(control, key, value);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.ABORTED) throw err;
    }
  }
}

/** Retries `fn` until it resolves or `ms` pass; rejects with the last error. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ms = 10_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms; last error: ${(last as Error)?.message ?? last}`);
    await sleep(every);
  }
}
