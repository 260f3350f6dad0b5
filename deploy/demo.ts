/**
 * `npm run demo`: a real cluster on this machine, no root needed. Starts three managers and two
 * workers as `shoald` processes on loopback addresses in a temporary directory, shows
 * `shoal node ls`, kills the leader with SIGKILL, shows the new leader and the cluster still
 * accepting writes, restarts the old leader as a follower, and cleans everything up (also on
 * Ctrl-C or failure).
 */
import { runCli } from "./cli/index.ts";
import { ProcessCluster, eventually } from "./lab/lab.ts";

const lab = new ProcessCluster();
const out = (line = ""): void => void process.stdout.write(`${line}\n`);

/** Runs `shoal ARGS` against the node `name`'s socket, printing what it prints. */
async function shoal(name: string, ...args: string[]): Promise<number> {
  out(`$ SHOAL_HOST=unix://<${name}>/shoald.sock shoal ${args.join(" ")}`);
  const code = await runCli(args, {
    stdout: process.stdout,
    stderr: process.stderr,
    env: { ...process.env, SHOAL_HOST: `unix://${lab.get(name).socket}` },
  });
  out();
  return code;
}

async function main(): Promise<void> {
  const managers = ["manager-1", "manager-2", "manager-3"];
  out("Starting a cluster of three managers and two workers on 127.0.0.1-5 ...");
  await lab.init("manager-1");
  await lab.join("manager-2", "manager-1", "manager");
  await lab.join("manager-3", "manager-1", "manager");
  await lab.join("worker-1", "manager-1", "worker");
  await lab.join("worker-2", "manager-2", "worker");
  await eventually("every node ready", async () => {
    const { nodes } = await lab.get("manager-1").control.listNodes();
    if (nodes.length !== 5 || nodes.some((n) => n.status?.state !== 2 || (n.managerStatus && !n.managerStatus.reachable))) throw new Error("not yet");
  }, 30_000);
  out();
  await shoal("manager-1", "node", "ls");

  const leader = (await lab.leader(managers))!;
  const survivor = managers.find((m) => m !== leader)!;
  out(`Killing the leader, ${leader}, with SIGKILL ...`);
  const killedAt = Date.now();
  await lab.kill(leader);
  await eventually("a write accepted by the survivors", async () => {
    const c = lab.get(survivor).control;
    const cluster = await c.getCluster();
    const labels = { ...cluster.spec?.annotations?.labels, "demo.written-after-kill": "yes" };
    await c.updateCluster({ version: cluster.meta!.version, spec: { ...cluster.spec!, annotations: { name: "default", labels } } });
  }, 15_000, 20);
  out(`A new leader was elected and accepted a write ${Date.now() - killedAt} ms after the kill.`);
  out();
  await eventually("the old leader seen as unreachable", async () => {
    const { nodes } = await lab.get(survivor).control.listNodes();
    if (nodes.find((n) => n.description?.hostname === leader)?.managerStatus?.reachable !== false) throw new Error("not yet");
  }, 10_000);
  await shoal(survivor, "node", "ls");
  await shoal(survivor, "node", "update", "--label-add", "demo=still-writable", "worker-1");

  out(`Restarting ${leader} from its data directory ...`);
  await lab.restart(leader);
  // Asked of the restarted manager itself: it answers with the leader's view once it knows the
  // leader (the leader may see it reachable, from its votes, a moment before).
  await eventually("the old leader back as a follower that knows the leader", async () => {
    const managerStatuses = (await lab.get(leader).control.listNodes()).nodes.flatMap((n) => (n.managerStatus ? [n.managerStatus] : []));
    if (!managerStatuses.some((m) => m.leader) || managerStatuses.some((m) => !m.reachable)) throw new Error("not yet");
  }, 15_000);
  await shoal(leader, "node", "ls");
  out("Done: the cluster survived the loss of its leader with nothing lost.");
}

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  out("Stopping every node and removing the temporary directory.");
  await lab.close();
}
process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));

try {
  await main();
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
