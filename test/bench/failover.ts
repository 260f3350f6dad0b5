/**
 * `npm run bench:failover`: how long a cluster takes to accept writes again after its leader dies.
 *
 * Three shoal managers of the local lab on loopback with default timings (DESIGN.md: elections
 * after 10–20 ticks of 100 ms, PreVote and CheckQuorum on). BENCH_KILLS times (default 10): a
 * write goes through a follower, the leader is killed with SIGKILL, and writes go through a
 * survivor until one is acknowledged (a new attempt 10 ms after one fails, and every 100 ms while
 * one waits); the figure is the time from the kill to the first acknowledgement, as a CI pipeline
 * writing through a surviving manager sees it. The killed member is then restarted, and the next
 * kill waits until it has caught up and the cluster is whole. A write is a config created through
 * the survivor's TCP port over mutual TLS with an operator's certificate, as a CI runner's would
 * be (before 2026-12-08: through its local socket). When `etcd` is on the PATH, a three-member
 * etcd 3.4 with its default timings (heartbeat 100 ms, election timeout 1 s) goes through the same
 * after shoal, with `KV/Put`s over mutual TLS through a survivor's client URL
 * (test/bench/etcd-target.ts).
 *
 * One JSON line per kill, then per system one with the p50, p90 and longest failover and how many
 * took 3 s or more (issue 3's bound for shoal's default timings), then the ratios of the p50s and
 * p90s (shoal / etcd). Everything started is stopped and removed, also on failure or Ctrl-C.
 */
import { eventually, sleep } from "../../deploy/lab/lab.ts";
import { ControlClient } from "../../deploy/cli/control-client.ts";
import { clientCredentials, CLUSTER_CHANNEL_OPTIONS } from "../../manager/ca/index.ts";
import type { TlsIdentity } from "../../manager/ca/index.ts";
import { EtcdCluster, etcdMissing, etcdStatus, put } from "./etcd-target.ts";
import type { EtcdMember } from "./etcd-target.ts";
import { cleanUpOnInterrupt } from "./interrupt.ts";
import { quantile, ratio } from "./load.ts";
import { operatorIdentity, startBenchManagers } from "./shoal-target.ts";
import type { UnaryConnection } from "./unary-client.ts";

const KILLS = Number(process.env.BENCH_KILLS ?? 10);
/** The bound issue 3 sets for a new leader serving writes, by shoal's default timings. */
const FAILOVER_BOUND_MS = 3_000;
/** Longest wait for writes after a kill, or for a restarted member to catch up. */
const GIVE_UP_MS = 30_000;
/** Between a failed write attempt and the next. */
const RETRY_MS = 10;
/** While a write attempt waits, another starts this often (see firstAcknowledged). */
const ATTEMPT_EVERY_MS = 100;
/** After a restart and catch-up, how long the cluster settles before the next kill. */
const SETTLE_MS = 1_000;

/** What the measurement needs of a system under it. */
interface FailoverSubject {
  readonly system: string;
  /** Its members' names. */
  readonly members: readonly string[];
  /** The member that leads, once one does. */
  leader(): Promise<string>;
  /** One write of a new key `key` through member `via`; rejects when it is not acknowledged. */
  write(via: string, key: string): Promise<void>;
  /** Kills member `name` with SIGKILL. */
  kill(name: string): Promise<void>;
  /** Restarts the killed member `name`; resolves once it has caught up with the write of `key` and the cluster is whole. */
  restartAndCatchUp(name: string, key: string): Promise<void>;
  /** Stops everything and removes its data. */
  close(): Promise<void>;
}

/**
 * One open client per member, made when first needed, so that every attempt after a kill reuses
 * it as a client would; a killed member's is closed and made again after its restart.
 */
class ClientsByMember<C extends { close(): void }> {
  private readonly open = new Map<string, C>();

  constructor(private readonly connect: (name: string) => C | Promise<C>) {}

  /** The client of member `name`. */
  async get(name: string): Promise<C> {
    const client = this.open.get(name) ?? await this.connect(name);
    this.open.set(name, client);
    return client;
  }

  /** Closes the client of member `name`, if any. */
  drop(name: string): void {
    this.open.get(name)?.close();
    this.open.delete(name);
  }

  /** Closes every client. */
  closeAll(): void {
    for (const name of [...this.open.keys()]) this.drop(name);
  }
}

/** Three shoal managers of the local lab. */
async function shoalSubject(): Promise<FailoverSubject> {
  const members = ["failover-m1", "failover-m2", "failover-m3"];
  const lab = await startBenchManagers(members);
  let operator: TlsIdentity;
  try {
    operator = await operatorIdentity(lab, members[0]!);
  } catch (err) {
    await lab.close();
    throw err;
  }
  // As a CI runner reaches a manager: its TCP port, with an operator's certificate.
  const clients = new ClientsByMember<ControlClient>((name) => {
    const addr = lab.get(name).addr;
    return new ControlClient({ host: `tcp://${addr}`, target: addr, credentials: clientCredentials(operator), options: { ...CLUSTER_CHANNEL_OPTIONS } });
  });
  return {
    system: "shoal",
    members,
    leader: () => lab.awaitLeader(members),
    async write(via, key) {
      const client = await clients.get(via);
      await client.createConfig({ annotations: { name: key, labels: {} }, data: Buffer.from("failover") });
    },
    async kill(name) {
      clients.drop(name);
      await lab.kill(name);
    },
    async restartAndCatchUp(name, key) {
      await lab.restart(name);
      await lab.awaitManagersReachable(name, members.length, GIVE_UP_MS);
      const client = await clients.get(name);
      await eventually(`${name} has caught up`, () => client.getConfig(key), GIVE_UP_MS);
    },
    async close() {
      clients.closeAll();
      await lab.close();
    },
  };
}

/** Three etcd members with their default timings. */
async function etcdSubject(): Promise<FailoverSubject> {
  const cluster = await EtcdCluster.start();
  const byName = new Map(cluster.members.map((m) => [m.name, m]));
  const member = (name: string): EtcdMember => byName.get(name)!;
  const conns = new ClientsByMember<UnaryConnection>((name) => cluster.connect(member(name), GIVE_UP_MS));
  try {
    await cluster.leader();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return {
    system: "etcd",
    members: cluster.members.map((m) => m.name),
    leader: async () => (await cluster.leader()).name,
    write: async (via, key) => put(await conns.get(via), key, Buffer.from("failover")),
    async kill(name) {
      conns.drop(name);
      await cluster.kill(member(name));
    },
    async restartAndCatchUp(name, key) {
      const leader = await cluster.leader();
      const target = (await etcdStatus(leader.clientUrl)).raftIndex ?? 0;
      cluster.restart(member(name));
      await eventually(`etcd ${name} has caught up with ${key}`, async () => {
        if (((await etcdStatus(member(name).clientUrl)).raftIndex ?? 0) < target) throw new Error("not yet");
      }, GIVE_UP_MS);
      await cluster.leader();
    },
    async close() {
      conns.closeAll();
      await cluster.close();
    },
  };
}

/**
 * Writes with `attempt` until one is acknowledged; resolves with when (`performance.now()`) and
 * how many attempts were made. A new attempt starts {@link RETRY_MS} after one fails, and every
 * {@link ATTEMPT_EVERY_MS} while one waits: a system that holds a write until it has a leader
 * again (etcd) and one that refuses it at once (shoal) are both timed by their first
 * acknowledgement, within those intervals.
 */
function firstAcknowledged(attempt: () => Promise<void>, what: string): Promise<{ at: number; attempts: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let attempts = 0;
    let done = false;
    let every: NodeJS.Timeout | undefined;
    const start = (): void => {
      if (done) return;
      clearTimeout(every);
      if (performance.now() - started > GIVE_UP_MS) {
        done = true;
        reject(new Error(`no write acknowledged within ${GIVE_UP_MS} ms ${what}`));
        return;
      }
      const n = ++attempts;
      every = setTimeout(start, ATTEMPT_EVERY_MS);
      attempt().then(() => {
        if (done) return;
        done = true;
        clearTimeout(every);
        resolve({ at: performance.now(), attempts });
      }, () => {
        // Only the latest attempt's failure starts the next: those given up on already have theirs.
        if (n === attempts) setTimeout(start, RETRY_MS);
      });
    };
    start();
  });
}

/** Kills the leader of `s` once; resolves with the milliseconds until a write through a survivor was acknowledged. */
async function failOnce(s: FailoverSubject, kill: number): Promise<{ failoverMs: number; killed: string; attempts: number }> {
  const killed = await s.leader();
  const survivor = s.members.find((m) => m !== killed)!;
  await s.write(survivor, `before-kill-${kill}`);
  const key = `after-kill-${kill}`;
  const killedAt = performance.now();
  await s.kill(killed);
  const { at, attempts } = await firstAcknowledged(() => s.write(survivor, key), `through ${s.system} ${survivor} after killing the leader ${killed}`);
  const failoverMs = Math.round(at - killedAt);
  await s.restartAndCatchUp(killed, key);
  await sleep(SETTLE_MS);
  return { failoverMs, killed, attempts };
}

/** Kills the leader of `s` KILLS times; prints a line per kill and the summary; resolves with the sorted failover times. */
async function measure(s: FailoverSubject): Promise<number[]> {
  const times: number[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    const result = await failOnce(s, kill);
    times.push(result.failoverMs);
    console.log(JSON.stringify({ system: s.system, kill, ...result }));
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({
    system: s.system, kills: KILLS, p50ms: quantile(sorted, 0.5), p90ms: quantile(sorted, 0.9), maxMs: sorted.at(-1),
    atOrOverBound: times.filter((t) => t >= FAILOVER_BOUND_MS).length, boundMs: FAILOVER_BOUND_MS,
  }));
  return sorted;
}

/** The subject running, so that a signal can stop it. */
let running: FailoverSubject | undefined;

/** Runs `start`'s subject through the kills and stops it, whatever happens. */
async function run(start: () => Promise<FailoverSubject>): Promise<number[]> {
  running = await start();
  try {
    return await measure(running);
  } finally {
    await running.close();
    running = undefined;
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(KILLS) || KILLS < 1) throw new Error(`BENCH_KILLS must be a positive integer, got "${process.env.BENCH_KILLS}"`);
  cleanUpOnInterrupt(async () => running?.close());
  const shoal = await run(shoalSubject);
  const missing = etcdMissing();
  if (missing) {
    console.log(JSON.stringify({ system: "etcd", skipped: `comparison with etcd skipped: ${missing}` }));
    return;
  }
  const etcd = await run(etcdSubject);
  const at = (q: number): number => ratio(quantile(shoal, q), quantile(etcd, q));
  console.log(JSON.stringify({ system: "shoal/etcd", p50Ratio: at(0.5), p90Ratio: at(0.9) }));
}

await main();
