/**
 * What a node remembers about itself between restarts, in `<data-dir>/node.json`: its id, its
 * role, its cluster, its raft id (managers), and where it listens. Certificates live beside it
 * in `<data-dir>/certificates/`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The node's identity and addresses. */
export interface NodeState {
  /** The node id (also the CN of its certificate). */
  nodeId: string;
  /** The cluster it belongs to. */
  clusterId: string;
  /** "manager" or "worker". */
  role: "manager" | "worker";
  /** Raft id, for managers. */
  raftId?: number;
  /** Where it listens. */
  listenAddr: string;
  /** Where others reach it. */
  advertiseAddr: string;
  /** Managers to contact (workers, and managers that lost theirs), most recent first. */
  managers: string[];
  /** The hostname given with --hostname, kept across restarts. */
  hostname?: string;
}

/** The files under a data directory. */
export function dataPaths(dataDir: string): {
  state: string; certs: string; cert: string; key: string; ca: string; raft: string; socket: string; faults: string;
} {
  const certs = join(dataDir, "certificates");
  return {
    state: join(dataDir, "node.json"),
    certs,
    cert: join(certs, "node.crt"),
    key: join(certs, "node.key"),
    ca: join(certs, "ca.crt"),
    raft: join(dataDir, "raft"),
    socket: join(dataDir, "shoald.sock"),
    faults: join(dataDir, "faults.json"),
  };
}

/** Reads the node state; undefined when the directory holds none (a new node). */
export function readNodeState(dataDir: string): NodeState | undefined {
  let text: string;
  try {
    text = readFileSync(dataPaths(dataDir).state, "utf8");
  } catch {
    return undefined;
  }
  return JSON.parse(text) as NodeState;
}

/** Writes the node state atomically (write then rename), owner-only. */
export function writeNodeState(dataDir: string, state: NodeState): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = dataPaths(dataDir).state;
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** Writes the node's TLS material owner-only. */
export function writeCertificates(dataDir: string, tls: { certPem: string; keyPem: string; caCertPem: string }): void {
  const p = dataPaths(dataDir);
  mkdirSync(p.certs, { recursive: true, mode: 0o700 });
  for (const [path, data] of [[p.key, tls.keyPem], [p.cert, tls.certPem], [p.ca, tls.caCertPem]] as const) {
    writeFileSync(`${path}.tmp`, data, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }
}

/** Reads the node's TLS material. */
export function readCertificates(dataDir: string): { certPem: string; keyPem: string; caCertPem: string } {
  const p = dataPaths(dataDir);
  return { certPem: readFileSync(p.cert, "utf8"), keyPem: readFileSync(p.key, "utf8"), caCertPem: readFileSync(p.ca, "utf8") };
}
