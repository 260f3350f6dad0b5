/**
 * shoal under the benchmark: three manager processes of the local lab (deploy/lab) on
 * 127.0.0.1-3 with default timings, and a client that reaches the leader as a remote operator
 * does: an operator certificate issued through the leader's local socket (as `shoal cluster
 * client-cert`), then mutual TLS to the leader's TCP address. Each write is a CreateConfig of a
 * config with a unique name and 256 bytes of data: one store transaction, one Raft entry. As the
 * etcd target does, writes go through the load generator's own client (test/bench/unary-client.ts),
 * which checks each answer's status without decoding it, so that both clients do the same work
 * per write.
 */
import { fileURLToPath } from "node:url";
import { cliControl, ProcessCluster, sleep } from "../../deploy/lab/lab.ts";
import type { ProcessClusterOptions } from "../../deploy/lab/lab.ts";
import { ControlService } from "../../proto/gen/control.ts";
import { clusterIdOfCA, createCsr, generateKeyPem, managerIdentityCheck, TlsIdentity } from "../../manager/ca/index.ts";
import { mainIsolate, summarizeGcTrace } from "./gc-trace.ts";
import type { Target } from "./load.ts";
import { connectUnary } from "./unary-client.ts";
import type { UnaryConnection } from "./unary-client.ts";

/** Managers, by hostname; the lab gives them 127.0.0.1, .2 and .3 in this order. */
const MANAGERS = ["bench-m1", "bench-m2", "bench-m3"];
/**
 * After the managers are reachable, time for the leader's reconciliation (every 250 ms)
 * to make the joined learners voters, so that every write needs a quorum of two.
 */
const SETTLE_MS = 2_000;
/** Longest wait for one write: far beyond any healthy cluster's latency. */
const WRITE_TIMEOUT_MS = 30_000;
/** When set (BENCH_GC_TRACE=1), the managers run with `--trace-gc-nvp` and `gcSince` sums their main threads' collections. */
const GC_TRACE = process.env.BENCH_GC_TRACE === "1";
/** When set (BENCH_PROFILE_DIR), each manager writes a V8 CPU profile there (test/bench/cpu-profile.ts). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const CPU_PROFILE_HOOK = fileURLToPath(new URL("./cpu-profile.ts", import.meta.url));

/**
 * Starts managers `names` (the first inits, the others join it) in a lab with default timings and
 * resolves once they are all reachable and the joined ones voters; `options` adds to the lab's
 * environment and Node.js flags. Closes the lab when it fails.
 */
export async function startBenchManagers(names: readonly string[], options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  // Default timings: the lab shortens only the node heartbeat, which is put back here.
  const lab = new ProcessCluster({ ...options, env: { SHOAL_HEARTBEAT_MS: "5000", ...options.env } });
  try {
    await lab.init(names[0]!);
    for (const m of names.slice(1)) await lab.join(m, names[0]!, "manager");
    await lab.awaitManagersReachable(names[0]!, names.length);
    await sleep(SETTLE_MS);
    return lab;
  } catch (err) {
    await lab.close();
    throw err;
  }
}

/**
 * An operator's identity for the lab's cluster, as `shoal cluster client-cert` makes one: a key
 * made here, its certificate issued through the local socket of manager `via`.
 */
export async function operatorIdentity(lab: ProcessCluster, via: string): Promise<TlsIdentity> {
  const local = cliControl(lab.get(via));
  const keyPem = await generateKeyPem();
  const { certPem, caCertPem } = await local.issueOperatorCertificate({ csrPem: createCsr(keyPem), name: "bench" }).finally(() => local.close());
  return new TlsIdentity({ certPem, keyPem, caCertPem });
}

/** Starts three shoal managers and connects to the leader over mutual TLS. */
export async function startShoal(): Promise<Target> {
  const env: Record<string, string> = {};
  if (PROFILE_DIR) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import tsx --import ${CPU_PROFILE_HOOK}`.trim();
  const lab = await startBenchManagers(MANAGERS, { env, nodeFlags: GC_TRACE ? ["--trace-gc-nvp"] : [] });
  let client: UnaryConnection;
  try {
    const leader = await lab.awaitLeader(MANAGERS);
    const { caCertPem, certPem, keyPem } = (await operatorIdentity(lab, leader)).bundle;
    client = await connectUnary({
      address: lab.get(leader).addr, timeoutMs: WRITE_TIMEOUT_MS,
      tls: { ca: caCertPem, cert: certPem, key: keyPem, servername: "shoal", checkServerIdentity: managerIdentityCheck(clusterIdOfCA(caCertPem)) },
    });
  } catch (err) {
    await lab.close();
    throw err;
  }
  const remote = client;
  const { path, requestSerialize } = ControlService.createConfig;
  /** How many lines of each manager's log `gcSince` has read. */
  const logRead = new Map<string, number>();
  return {
    system: "shoal",
    write(run, seq, value) {
      return remote.call(path, requestSerialize({ spec: { annotations: { name: `bench-${run}-${seq}`, labels: {} }, data: value } }));
    },
    pids: () => MANAGERS.map((m) => lab.get(m).proc?.pid).filter((pid) => pid !== undefined),
    ...(GC_TRACE ? {
      async gcSince() {
        const leader = await lab.leader(MANAGERS);
        return MANAGERS.map((m) => {
          const log = lab.get(m).log;
          const lines = log.slice(logRead.get(m) ?? 0);
          logRead.set(m, log.length);
          return { process: m, leader: m === leader, ...summarizeGcTrace(lines, mainIsolate(log)) };
        });
      },
    } : {}),
    async close() {
      remote.close();
      // A profiled manager writes its profile when it exits by itself, which SIGTERM lets it do.
      if (PROFILE_DIR) for (const m of MANAGERS) await lab.kill(m, "SIGTERM");
      await lab.close();
    },
  };
}
