import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { NodeState } from "../../proto/gen/objects.ts";
import type { Cluster } from "../../proto/gen/objects.ts";
import { ProcessCluster, eventually, sleep, writeLabel } from "../../deploy/lab/lab.ts";
import { findJemalloc, mapsJemalloc, WITHOUT_JEMALLOC } from "../../deploy/daemon/allocator.ts";
import { v8PoolFlag } from "../../deploy/daemon/v8-pool.ts";
import { shoal } from "../../deploy/cli/testing.ts";

const MANAGERS = ["m1", "m2", "m3"];
const cluster = new ProcessCluster();

before(async () => {
  await cluster.init("m1");
  await cluster.join("m2", "m1", "manager");
  await cluster.join("m3", "m1", "manager");
  await cluster.join("w1", "m1", "worker");
  await cluster.join("w2", "m2", "worker");
});
after(() => cluster.close());

test("three managers and two workers form a cluster: one leader, every node ready", async () => {
  const { nodes } = await eventually("every node ready", async () => {
    const r = await cluster.get("m1").control.listNodes();
    assert.equal(r.nodes.length, 5);
    assert.ok(r.nodes.every((n) => n.status?.state === NodeState.NODE_STATE_READY), "all ready");
    assert.ok(r.nodes.filter((n) => n.managerStatus).every((n) => n.managerStatus!.reachable), "all managers reachable");
    return r;
  });
  assert.equal(nodes.filter((n) => n.managerStatus?.leader).length, 1);
  assert.deepEqual(nodes.filter((n) => n.managerStatus).map((n) => n.description?.hostname).sort(), MANAGERS);
  // The control socket is owner-only.
  assert.equal(statSync(join(cluster.get("m1").dataDir, "shoald.sock")).mode & 0o777, 0o600);
  // A worker's socket answers that it is not a manager.
  await assert.rejects(cluster.get("w1").control.getCluster(), /this node is not a manager/);
});

test("the lab runs every shoald with jemalloc when it is installed, and then shoald does not warn about its allocator", async (t) => {
  const jemalloc = findJemalloc();
  if (!jemalloc) {
    t.skip("jemalloc is not installed (Debian: libjemalloc2): the lab runs shoald with the C library's malloc");
    return;
  }
  for (const name of [...MANAGERS, "w1", "w2"]) {
    const { pid } = cluster.get(name).proc!;
    assert.ok(mapsJemalloc(readFileSync(`/proc/${pid}/maps`, "utf8")), `${name} (pid ${pid}) has ${jemalloc} loaded`);
    assert.ok(!cluster.get(name).log.some((line) => line.includes(WITHOUT_JEMALLOC)), `${name} did not complain about its allocator`);
  }
});

test("the lab gives every shoald a V8 pool sized to the machine, and then shoald does not advise another", () => {
  for (const name of [...MANAGERS, "w1", "w2"]) {
    const { pid } = cluster.get(name).proc!;
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    assert.ok(args.includes(v8PoolFlag()), `${name} (pid ${pid}) started with ${v8PoolFlag()}: ${args.join(" ")}`);
    assert.ok(!cluster.get(name).log.some((line) => line.includes("--v8-pool-size")), `${name} did not advise a pool size`);
  }
});

test("a write through any manager is forwarded to the leader and replicated to every manager", async () => {
  await writeLabel(cluster.get("m3").control, "first", "1");
  for (const m of MANAGERS) {
    await eventually(`${m} has the write`, async () => {
      assert.equal((await cluster.get(m).control.getCluster()).spec?.annotations?.labels.first, "1");
    });
  }
});

test("an operator's certificate drives the cluster over the managers' TCP port, through the leader and through a follower, errors included", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-operator-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = await shoal(["-H", `unix://${cluster.get("m1").socket}`, "cluster", "client-cert", "--out", dir, "--name", "ci"]);
  assert.equal(cert.code, 0, cert.stderr);
  const leader = await cluster.awaitLeader(MANAGERS);
  const follower = MANAGERS.find((m) => m !== leader)!;
  // Operators' connections are served by the control API's own server (manager/controlapi/h2); a
  // follower's forwards writes to the leader over grpc-js.
  for (const m of [leader, follower]) {
    const env = { SHOAL_HOST: `tcp://${cluster.get(m).addr}`, SHOAL_CERT_PATH: dir };
    const ls = await shoal(["node", "ls", "-q"], env);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim().split("\n").length, 5);
    const created = await shoal(["config", "create", `via-${m}`, "-"], env, { stdin: "payload" });
    assert.equal(created.code, 0, created.stderr);
    const again = await shoal(["config", "create", `via-${m}`, "-"], env, { stdin: "payload" });
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`config name "via-${m}" already exists`));
    const inspect = await shoal(["config", "inspect", `via-${m}`], env);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal(Buffer.from(JSON.parse(inspect.stdout)[0].spec.data, "base64").toString(), "payload");
  }
});

test("a revoked operator's certificates are refused by every manager; its holder cannot get another name, and the name is never issued again", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-revoked-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const local = (m: string) => ["-H", `unix://${cluster.get(m).socket}`];
  const overTcp = (m: string, certs: string) => ({ SHOAL_HOST: `tcp://${cluster.get(m).addr}`, SHOAL_CERT_PATH: certs });
  for (const name of ["leaked", "trusted"]) {
    const got = await shoal([...local("m1"), "cluster", "client-cert", "--out", join(dir, name), "--name", name]);
    assert.equal(got.code, 0, got.stderr);
  }
  const leaked = join(dir, "leaked");
  // An operator renews itself but cannot mint a certificate under another name.
  const other = await shoal(["cluster", "client-cert", "--out", join(dir, "other"), "--name", "admin"], overTcp("m2", leaked));
  assert.equal(other.code, 1);
  assert.match(other.stderr, /operator leaked may renew its own certificate, not get one named "admin"/);
  for (const m of MANAGERS) assert.equal((await shoal(["node", "ls", "-q"], overTcp(m, leaked))).code, 0);

  const revoke = await shoal([...local("m2"), "cluster", "revoke-client-cert", "leaked"]);
  assert.equal(revoke.code, 0, revoke.stderr);
  for (const m of MANAGERS) {
    await eventually(`${m} refuses the revoked certificate`, async () => {
      const ls = await shoal(["node", "ls", "-q"], overTcp(m, leaked));
      assert.equal(ls.code, 1);
      assert.match(ls.stderr, /the certificates of operator leaked were revoked; \/shoal\.control\.Control\/ListNodes is refused/);
    });
    assert.equal((await shoal(["node", "ls", "-q"], overTcp(m, join(dir, "trusted")))).code, 0, `${m} still serves another operator`);
  }
  const again = await shoal([...local("m3"), "cluster", "client-cert", "--out", join(dir, "again"), "--name", "leaked"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /operator certificates named "leaked" were revoked and are never issued again: choose another name/);
  const shown = JSON.parse((await shoal([...local("m1"), "cluster", "inspect"])).stdout) as Cluster;
  assert.deepEqual(shown.revokedOperators, ["leaked"]);
});

test("killing the leader with SIGKILL: a new leader serves writes within 3 s; the old one rejoins with nothing lost", async () => {
  const leader = (await cluster.leader(MANAGERS))!;
  assert.ok(leader);
  await writeLabel(cluster.get(leader).control, "before-kill", "yes");
  const survivors = MANAGERS.filter((m) => m !== leader);
  const logLinesBefore = new Map(survivors.map((m) => [m, cluster.get(m).log.length]));
  const killedAt = Date.now();
  await cluster.kill(leader);
  let tookMs: number;
  try {
    await eventually("a write after the leader died", () => writeLabel(cluster.get(survivors[0]!).control, "after-kill", "yes"), 10_000, 20);
    tookMs = Date.now() - killedAt;
  } finally {
    // Whatever happened, the tests after this one need all three managers.
    await cluster.restart(leader);
  }
  await eventually("the old leader catches up", async () => {
    const labels = (await cluster.get(leader).control.getCluster()).spec?.annotations?.labels ?? {};
    assert.equal(labels["before-kill"], "yes");
    assert.equal(labels["after-kill"], "yes");
  });
  const now = await cluster.leader(MANAGERS);
  assert.notEqual(now, leader, "the restarted manager came back as a follower");
  // Operators can tell from the logs which manager leads since when.
  assert.ok(cluster.get(now!).log.slice(logLinesBefore.get(now!)).some((line) => /this manager is now the leader \(Raft term \d+\)/.test(line)), `${now} logged that it became the leader`);
  // Checked last, so that a slow failover on a busy machine leaves the cluster whole for the next tests.
  assert.ok(tookMs < 3000, `the cluster took ${tookMs} ms to accept a write again`);
});

test("a partitioned leader cannot commit; the others elect a leader and continue; it converges after the cut heals", async () => {
  const leader = (await cluster.leader(MANAGERS))!;
  const others = MANAGERS.filter((m) => m !== leader);
  cluster.cut(leader, others);
  try {
    await eventually("the majority elects a new leader", async () => {
      const l = await cluster.leader(others);
      assert.ok(l && others.includes(l), `leader ${l}`);
    }, 10_000);
    await writeLabel(cluster.get(others[0]!).control, "during-cut", "yes");
    // The cut-off manager cannot commit: it lost its quorum.
    await assert.rejects(writeLabel(cluster.get(leader).control, "cut-off", "no"),
      (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE && /quorum|no leader|cannot be reached|not the leader|leadership was lost/.test(err.details));
    assert.equal((await cluster.get(leader).control.getCluster()).spec?.annotations?.labels["during-cut"], undefined, "stale but answering");
  } finally {
    cluster.heal();
  }
  await eventually("the cut-off manager converges", async () => {
    const labels = (await cluster.get(leader).control.getCluster()).spec?.annotations?.labels ?? {};
    assert.equal(labels["during-cut"], "yes");
    assert.equal(labels["cut-off"], undefined);
  });
});

test("without quorum, writes fail fast naming how many managers are reachable; reads still answer", async () => {
  const [a, b, c] = MANAGERS as [string, string, string];
  await cluster.kill(b);
  await cluster.kill(c);
  try {
    await sleep(2500); // past an election timeout: the survivor has noticed
    const started = Date.now();
    await assert.rejects(writeLabel(cluster.get(a).control, "no-quorum", "x"), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /1 of 3 managers reachable/);
      return true;
    });
    assert.ok(Date.now() - started < 1000, "fails fast");
    const read = await cluster.get(a).control.getCluster();
    assert.equal(read.spec?.annotations?.labels.first, "1");
  } finally {
    await cluster.restart(b);
    await cluster.restart(c);
  }
  await eventually("quorum is back", () => writeLabel(cluster.get(a).control, "quorum-back", "yes"), 15_000);
});

test("SIGTERM stops every node within seconds, with its peers still connected, and removes its socket", async () => {
  // Last: it stops the cluster. Workers first, then the managers, while the others still talk to them.
  for (const name of ["w1", "w2", ...MANAGERS]) {
    const node = cluster.get(name);
    await Promise.race([cluster.kill(name, "SIGTERM"), sleep(3000)]);
    assert.equal(node.proc?.exitCode, 0, `${name} exits with status 0 within 3 s of SIGTERM`);
    assert.throws(() => statSync(join(node.dataDir, "shoald.sock")), /ENOENT/);
  }
});
