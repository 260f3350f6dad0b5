/**
 * shoal under the benchmark: three manager processes of the local lab (deploy/lab) on
 * 127.0.0.1-3 with default timings, and a client that reaches the leader as a remote operator
 * does: an operator certificate issued through the leader's local socket (as `shoal cluster
 * client-cert`), then mutual TLS to the leader's TCP address. Each write is a CreateConfig of a
 * config with a unique name and 256 bytes of data: one store transaction, one Raft entry.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { ProcessCluster, eventually, sleep } from "../../deploy/lab/lab.ts";
import { ControlClient } from "../../deploy/cli/control-client.ts";
import { clientCredentials, CLUSTER_CHANNEL_OPTIONS, createCsr, generateKeyPem, TlsIdentity } from "../../manager/ca/index.ts";
import type { Target } from "./load.ts";

/** Managers, by hostname; the lab gives them 127.0.0.1, .2 and .3 in this order. */
const MANAGERS = ["bench-m1", "bench-m2", "bench-m3"];
/**
 * After the three managers are reachable, time for the leader's reconciliation (every 250 ms)
 * to make the joined learners voters, so that every write needs a quorum of two.
 */
const SETTLE_MS = 2_000;
/** When set (BENCH_PROFILE_DIR), each manager writes a V8 CPU profile there (test/bench/cpu-profile.ts). */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const CPU_PROFILE_HOOK = fileURLToPath(new URL("./cpu-profile.ts", import.meta.url));

/** Starts three shoal managers and connects to the leader over mutual TLS. */
export async function startShoal(): Promise<Target> {
  // Default timings: the lab shortens only the node heartbeat, which is put back here.
  const env: Record<string, string> = { SHOAL_HEARTBEAT_MS: "5000" };
  if (PROFILE_DIR) env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import tsx --import ${CPU_PROFILE_HOOK}`.trim();
  const lab = new ProcessCluster({ env });
  let client: ControlClient | undefined;
  try {
    await lab.init(MANAGERS[0]!);
    for (const m of MANAGERS.slice(1)) await lab.join(m, MANAGERS[0]!, "manager");
    await eventually("three managers reachable", async () => {
      const { nodes } = await lab.get(MANAGERS[0]!).control.listNodes();
      if (nodes.filter((n) => n.managerStatus?.reachable).length !== 3) throw new Error("not yet");
    }, 30_000);
    await sleep(SETTLE_MS);
    const leader = await eventually("a leader", async () => {
      const name = await lab.leader(MANAGERS);
      if (!name) throw new Error("no leader yet");
      return lab.get(name);
    });
    const local = new ControlClient({
      host: "leader socket", target: `unix://${join(leader.dataDir, "shoald.sock")}`, credentials: credentials.createInsecure(), options: {},
    });
    const keyPem = await generateKeyPem();
    const { certPem, caCertPem } = await local.issueOperatorCertificate({ csrPem: createCsr(keyPem), name: "bench" }).finally(() => local.close());
    const identity = new TlsIdentity({ certPem, keyPem, caCertPem });
    client = new ControlClient({ host: `tcp://${leader.addr}`, target: leader.addr, credentials: clientCredentials(identity), options: { ...CLUSTER_CHANNEL_OPTIONS } });
  } catch (err) {
    await lab.close();
    throw err;
  }
  const remote = client;
  return {
    system: "shoal",
    async write(run, seq, value) {
      await remote.createConfig({ annotations: { name: `bench-${run}-${seq}`, labels: {} }, data: value });
    },
    pids: () => MANAGERS.map((m) => lab.get(m).proc?.pid).filter((pid) => pid !== undefined),
    async close() {
      remote.close();
      // A profiled manager writes its profile when it exits by itself, which SIGTERM lets it do.
      if (PROFILE_DIR) for (const m of MANAGERS) await lab.kill(m, "SIGTERM");
      await lab.close();
    },
  };
}
