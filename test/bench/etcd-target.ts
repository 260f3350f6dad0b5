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
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { eventually } from "../../deploy/lab/lab.ts";
import { freePorts } from "../free-ports.ts";
import { CertRole, createRootCA, issueKeyAndCertificate, newId } from "../../manager/ca/index.ts";
import type { Target } from "./load.ts";
import { connectUnary } from "./unary-client.ts";
import type { UnaryConnection } from "./unary-client.ts";

const MEMBERS = 3;
/** Longest wait for one Put: far beyond any healthy cluster's latency. */
const PUT_TIMEOUT_MS = 30_000;
/** Lines of each member's output kept, to say why it failed. */
const LOG_LINES_KEPT = 50;

/** Why etcd cannot be compared on this machine, or undefined when it can. */
export function etcdMissing(): string | undefined {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8" });
  if (r.error) return `etcd is not on the PATH (${(r.error as NodeJS.ErrnoException).code}); on Debian: apt-get install etcd-server`;
  if (r.status !== 0) return `etcd --version failed: ${r.stderr.trim()}`;
  return undefined;
}

/** `PutRequest { bytes key = 1; bytes value = 2; }`. */
function encodePut(key: Uint8Array, value: Uint8Array): Buffer {
  const bytes = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(key).uint32((2 << 3) | 2).bytes(value).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One member: its process, client URL and captured output. */
interface Member {
  name: string;
  clientUrl: string;
  tlsUrl: string;
  proc: ChildProcess;
  log: string[];
}

/** What `/v3/maintenance/status` answers (the fields used). */
interface StatusReply {
  header?: { member_id?: string };
  leader?: string;
}

/** The status of the member at `clientUrl`, from etcd's JSON gateway. */
async function status(clientUrl: string): Promise<StatusReply> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}", signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as StatusReply;
}

/** Starts three etcd members, waits for a leader and connects to it. */
export async function startEtcd(): Promise<Target> {
  const root = mkdtempSync(join(tmpdir(), "shoal-bench-etcd-"));
  const members: Member[] = [];
  let client: UnaryConnection | undefined;
  const close = async (): Promise<void> => {
    client?.close();
    await Promise.all(members.map((m) => new Promise<void>((resolve) => {
      if (m.proc.exitCode !== null || m.proc.signalCode !== null) return resolve();
      m.proc.once("exit", () => resolve());
      m.proc.kill("SIGKILL");
    })));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const clusterId = newId();
    const ca = await createRootCA(clusterId);
    const server = await issueKeyAndCertificate(ca, { role: CertRole.MANAGER, nodeId: newId(), clusterId }, 24 * 3600 * 1000);
    const clientTls = await issueKeyAndCertificate(ca, { role: CertRole.OPERATOR, operator: "bench", clusterId }, 24 * 3600 * 1000);
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
      const proc = spawn("etcd", [
        "--name", name, "--data-dir", join(root, name),
        "--listen-client-urls", `${clientUrl},${tlsUrl}`, "--advertise-client-urls", `${clientUrl},${tlsUrl}`,
        "--cert-file", files.cert, "--key-file", files.key, "--client-cert-auth", "--trusted-ca-file", files.ca,
        "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--peer-auto-tls",
        "--initial-cluster", initial, "--initial-cluster-token", "shoal-bench", "--initial-cluster-state", "new",
      ], { stdio: ["ignore", "pipe", "pipe"] });
      const member: Member = { name, clientUrl, tlsUrl, proc, log: [] };
      const keep = (d: Buffer): void => {
        member.log.push(...d.toString().split("\n").filter(Boolean));
        member.log.splice(0, member.log.length - LOG_LINES_KEPT);
      };
      proc.stdout!.on("data", keep);
      proc.stderr!.on("data", keep);
      members.push(member);
    }
    const leader = await eventually("an etcd leader", async () => {
      for (const m of members) {
        if (m.proc.exitCode !== null) throw new Error(`etcd ${m.name} exited (${m.proc.exitCode}): ${m.log.slice(-5).join("\n")}`);
      }
      const statuses = await Promise.all(members.map((m) => status(m.clientUrl)));
      const leaderId = statuses[0]!.leader;
      if (!leaderId || leaderId === "0") throw new Error("no leader yet");
      const found = members.find((_, i) => statuses[i]!.header?.member_id === leaderId);
      if (!found) throw new Error("the leader is not one of the members started");
      return found;
    }, 30_000, 200);
    // The server's certificate, from the run's CA, names no host: its chain is checked, not its name.
    client = await connectUnary({
      address: new URL(leader.tlsUrl).host, timeoutMs: PUT_TIMEOUT_MS,
      tls: { ca: ca.caCertPem, cert: clientTls.certPem, key: clientTls.keyPem, servername: "etcd", checkServerIdentity: () => undefined },
    });
  } catch (err) {
    await close();
    throw err;
  }
  const conn = client;
  return {
    system: "etcd",
    write(run, seq, value) {
      const key = Buffer.from(`bench/${run}/${seq}`);
      return conn.call("/etcdserverpb.KV/Put", encodePut(key, value));
    },
    pids: () => members.map((m) => m.proc.pid).filter((pid) => pid !== undefined),
    close,
  };
}
