/**
 * etcd under the benchmark, for comparison: a three-member cluster of the `etcd` on the PATH
 * (Debian's etcd-server) on 127.0.0.1 with distinct client and peer ports, temporary data
 * directories and default durability (every write fsynced by a quorum). Writes are etcd's own
 * gRPC `etcdserverpb.KV/Put` of a unique key, sent to the leader over one HTTP/2 connection as
 * a Go client does, through the load generator's own client (test/bench/unary-client.ts), as
 * shoal's writes are; the request is encoded by hand below (only the fields used), and the answer
 * is not decoded.
 *
 * Like shoal's managers, etcd's client port asks for mutual TLS (`--client-cert-auth`, with
 * certificates from a CA made for the run), so both pay for TLS on the client path; a second,
 * plaintext client URL serves the status checks. Peer traffic is encrypted too, as between
 * shoal's managers, with certificates etcd makes for itself (`--peer-auto-tls`): etcd checks a
 * peer certificate's addresses, which the run's CA does not name, so the peers encrypt without
 * verifying each other; the cost per message is the same.
 *
 * `EtcdCluster` starts, kills and restarts the members (bench:failover kills its leader);
 * `startEtcd` is what bench:raft drives.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { eventually } from "../../deploy/lab/lab.ts";
import { freePorts } from "../free-ports.ts";
import { CertRole, createRootCA, issueKeyAndCertificate, newId } from "../../manager/ca/index.ts";
import type { TlsBundle } from "../../manager/ca/index.ts";
import type { Target } from "./load.ts";
import { connectUnary } from "./unary-client.ts";
import type { UnaryConnection } from "./unary-client.ts";
import { programMissing } from "./programs.ts";

const MEMBERS = 3;
/** Longest wait for one Put: far beyond any healthy cluster's latency. */
const PUT_TIMEOUT_MS = 30_000;
/** Lines of each member's output kept, to say why it failed. */
const LOG_LINES_KEPT = 50;

/** Why etcd cannot be compared on this machine, or undefined when it can. */
export function etcdMissing(): string | undefined {
  return programMissing("etcd", "on Debian: apt-get install etcd-server");
}

/** `PutRequest { bytes key = 1; bytes value = 2; }`. */
function encodePut(key: Uint8Array, value: Uint8Array): Buffer {
  const bytes = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(key).uint32((2 << 3) | 2).bytes(value).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One member: how it is started, its process, client URLs and captured output. */
export interface EtcdMember {
  name: string;
  /** Plaintext client URL (status checks). */
  clientUrl: string;
  /** Mutual-TLS client URL (writes). */
  tlsUrl: string;
  /** Its command line; the same restarts it from its data directory. */
  args: string[];
  proc: ChildProcess;
  log: string[];
}

/** What `/v3/maintenance/status` answers (the fields used). */
export interface EtcdStatus {
  header?: { member_id?: string };
  leader?: string;
  /** The member's last Raft index; the JSON gateway writes 64-bit integers as strings. */
  raftIndex?: number;
}

/** The status of the member at `clientUrl`, from etcd's JSON gateway. */
export async function etcdStatus(clientUrl: string): Promise<EtcdStatus> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`status ${res.status}`);
  const reply = (await res.json()) as Omit<EtcdStatus, "raftIndex"> & { raftIndex?: string | number };
  return { ...reply, raftIndex: reply.raftIndex === undefined ? undefined : Number(reply.raftIndex) };
}

/** Whether `proc` has exited. */
function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** A three-member etcd on loopback, in a temporary directory, with a client certificate for writes. */
export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  /** Members killed on purpose, whose exit is no failure. */
  private readonly killed = new Set<EtcdMember>();

  private constructor(private readonly root: string, private readonly clientTls: TlsBundle) {}

  /** Starts the members; they elect a leader by themselves (see {@link leader}). */
  static async start(): Promise<EtcdCluster> {
    const root = mkdtempSync(join(tmpdir(), "shoal-bench-etcd-"));
    try {
      const clusterId = newId();
      const ca = await createRootCA(clusterId);
      const server = await issueKeyAndCertificate(ca, { role: CertRole.MANAGER, nodeId: newId(), clusterId }, 24 * 3600 * 1000);
      const cluster = new EtcdCluster(root, await issueKeyAndCertificate(ca, { role: CertRole.OPERATOR, operator: "bench", clusterId }, 24 * 3600 * 1000));
      const files = { ca: join(root, "ca.pem"), cert: join(root, "server.pem"), key: join(root, "server.key") };
      writeFileSync(files.ca, ca.caCertPem);
      writeFileSync(files.cert, server.certPem);
      writeFileSync(files.key, server.keyPem, { mode: 0o600 });
      const free = await freePorts(3 * MEMBERS);
      const ports = Array.from({ length: MEMBERS }, (_, i) => ({ client: free[3 * i]!, tls: free[3 * i + 1]!, peer: free[3 * i + 2]! }));
      const initial = ports.map((p, i) => `e${i + 1}=https://127.0.0.1:${p.peer}`).join(",");
      for (const [i, p] of ports.entries()) {
        const name = `e${i + 1}`;
        const clientUrl = `http://127.0.0.1:${p.client}`;
        const peerUrl = `https://127.0.0.1:${p.peer}`;
        const tlsUrl = `https://127.0.0.1:${p.tls}`;
        const args = [
          "--name", name, "--data-dir", join(root, name),
          "--listen-client-urls", `${clientUrl},${tlsUrl}`, "--advertise-client-urls", `${clientUrl},${tlsUrl}`,
          "--cert-file", files.cert, "--key-file", files.key, "--client-cert-auth", "--trusted-ca-file", files.ca,
          "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--peer-auto-tls",
          "--initial-cluster", initial, "--initial-cluster-token", "shoal-bench", "--initial-cluster-state", "new",
        ];
        const member: EtcdMember = { name, clientUrl, tlsUrl, args, proc: cluster.spawnProcess(name, args), log: [] };
        cluster.members.push(member);
        cluster.capture(member);
      }
      return cluster;
    } catch (err) {
      rmSync(root, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts the etcd process of member `name` with `args`. */
  private spawnProcess(name: string, args: string[]): ChildProcess {
    const proc = spawn("etcd", args, { stdio: ["ignore", "pipe", "pipe"] });
    proc.on("error", (err) => console.error(`etcd ${name}: ${err.message}`));
    return proc;
  }

  /** Keeps the last lines of `member`'s output, to say why it failed. */
  private capture(member: EtcdMember): void {
    const keep = (d: Buffer): void => {
      member.log.push(...d.toString().split("\n").filter(Boolean));
      member.log.splice(0, member.log.length - LOG_LINES_KEPT);
    };
    member.proc.stdout!.on("data", keep);
    member.proc.stderr!.on("data", keep);
  }

  /** The member the running members agree leads, once there is one. */
  leader(): Promise<EtcdMember> {
    return eventually("an etcd leader", async () => {
      const failed = this.members.find((m) => exited(m.proc) && !this.killed.has(m));
      if (failed) throw new Error(`etcd ${failed.name} exited (${failed.proc.exitCode ?? failed.proc.signalCode}): ${failed.log.slice(-5).join("\n")}`);
      const running = this.members.filter((m) => !exited(m.proc));
      const statuses = await Promise.all(running.map((m) => etcdStatus(m.clientUrl)));
      const leaderId = statuses[0]?.leader;
      if (!leaderId || leaderId === "0") throw new Error("no leader yet");
      const found = running.find((_, i) => statuses[i]!.header?.member_id === leaderId);
      if (!found) throw new Error("the leader is not one of the members running");
      return found;
    }, 30_000, 50);
  }

  /** Kills `member` with SIGKILL and waits for it to exit. */
  async kill(member: EtcdMember): Promise<void> {
    this.killed.add(member);
    if (exited(member.proc)) return;
    const gone = new Promise((resolve) => member.proc.once("exit", resolve));
    member.proc.kill("SIGKILL");
    await gone;
  }

  /** Starts a killed `member` again from its data directory. */
  restart(member: EtcdMember): void {
    member.log = [];
    member.proc = this.spawnProcess(member.name, member.args);
    this.killed.delete(member);
    this.capture(member);
  }

  /** A connection for writes to `member`, each allowed `timeoutMs`. */
  connect(member: EtcdMember, timeoutMs: number): Promise<UnaryConnection> {
    // The server's certificate, from the run's CA, names no host: its chain is checked, not its name.
    return connectUnary({
      address: new URL(member.tlsUrl).host, timeoutMs,
      tls: { ca: this.clientTls.caCertPem, cert: this.clientTls.certPem, key: this.clientTls.keyPem, servername: "etcd", checkServerIdentity: () => undefined },
    });
  }

  /** Kills every member and removes the data. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m)));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** One Put of `value` under `key` through `conn`. */
export function put(conn: UnaryConnection, key: string, value: Uint8Array): Promise<void> {
  return conn.call("/etcdserverpb.KV/Put", encodePut(Buffer.from(key), value));
}

/** Starts three etcd members, waits for a leader and connects to it. */
export async function startEtcd(): Promise<Target> {
  const cluster = await EtcdCluster.start();
  let conn: UnaryConnection;
  try {
    conn = await cluster.connect(await cluster.leader(), PUT_TIMEOUT_MS);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return {
    system: "etcd",
    write: (run, seq, value) => put(conn, `bench/${run}/${seq}`, value),
    pids: () => cluster.members.map((m) => m.proc.pid).filter((pid) => pid !== undefined),
    async close() {
      conn.close();
      await cluster.close();
    },
  };
}
