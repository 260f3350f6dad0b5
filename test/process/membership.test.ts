import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ControlService } from "../../proto/gen/control.ts";
import { NodeState } from "../../proto/gen/objects.ts";
import type { Node } from "../../proto/gen/objects.ts";
import { NodeRole } from "../../proto/gen/specs.ts";
import { CLUSTER_CHANNEL_OPTIONS, clientCredentials, TlsIdentity } from "../../manager/ca/index.ts";
import { ProcessCluster, eventually, sleep } from "../../deploy/lab/lab.ts";

// Certificates valid for 8 s: renewal (between 50% and 80% of validity) happens during the test.
// Snapshots every 10 entries: the promoted worker catches up from a snapshot of a compacted log.
const cluster = new ProcessCluster({ env: { SHOAL_CERT_VALIDITY_MS: "8000", SHOAL_SNAPSHOT_INTERVAL: "10" } });

before(async () => {
  await cluster.init("m1");
  await cluster.join("m2", "m1", "manager");
  await cluster.join("m3", "m1", "manager");
  await cluster.join("w1", "m1", "worker");
});
after(() => cluster.close());

async function node(name: string): Promise<Node> {
  const { nodes } = await cluster.get("m1").control.listNodes();
  const n = nodes.find((x) => x.description?.hostname === name);
  if (!n) throw new Error(`no node ${name} among ${JSON.stringify(nodes.map((x) => [x.description?.hostname, x.id, x.managerStatus]))}`);
  return n;
}

async function setRole(name: string, role: NodeRole): Promise<void> {
  const n = await node(name);
  await cluster.get("m1").control.updateNode(n.id, n.meta!.version, { ...n.spec!, desiredRole: role });
}

/** A control client over TCP with the given TLS identity (or none), to the manager `name`. */
function tcpControl(name: string, creds: grpc.ChannelCredentials): { getCluster(): Promise<unknown>; close(): void } {
  const Client = grpc.makeGenericClientConstructor(ControlService, "Control");
  const c = new Client(cluster.get(name).addr, creds, CLUSTER_CHANNEL_OPTIONS) as unknown as {
    getCluster(req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void): void; close(): void;
  };
  return {
    getCluster: () => new Promise((resolve, reject) => c.getCluster({}, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res)))),
    close: () => c.close(),
  };
}

function identityOf(name: string): TlsIdentity {
  const dir = join(cluster.get(name).dataDir, "certificates");
  return new TlsIdentity({
    certPem: readFileSync(join(dir, "node.crt"), "utf8"), keyPem: readFileSync(join(dir, "node.key"), "utf8"), caCertPem: readFileSync(join(dir, "ca.crt"), "utf8"),
  });
}

test("certificates renew themselves before they expire, and the cluster keeps working on the new ones", async () => {
  const before = identityOf("w1").validity.expiresAt;
  await sleep(7000); // past 80% of the first certificate's validity
  const renewed = identityOf("w1").validity.expiresAt;
  assert.ok(renewed > before, "the worker's certificate was renewed");
  const r = await cluster.get("m2").control.listNodes();
  assert.ok(r.nodes.every((n) => n.status?.state === NodeState.NODE_STATE_READY), "every node still ready");
});

test("mutual TLS: no certificate is refused; a worker's certificate cannot call the control API; a manager's can", async () => {
  const anonymous = tcpControl("m1", grpc.credentials.createSsl(Buffer.from(identityOf("m1").bundle.caCertPem), null, null, { checkServerIdentity: () => undefined }));
  await assert.rejects(anonymous.getCluster(), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
  anonymous.close();
  const worker = tcpControl("m1", clientCredentials(identityOf("w1")));
  await assert.rejects(worker.getCluster(), (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED && /not by worker/.test(err.details));
  worker.close();
  const manager = tcpControl("m1", clientCredentials(identityOf("m2")));
  await manager.getCluster();
  manager.close();
});

test("a rotated join token is useless; the new one works", async () => {
  const m1 = cluster.get("m1").control;
  const before = await m1.getCluster();
  const old = before.rootCa!.joinTokens!.worker;
  await m1.updateCluster({ version: before.meta!.version, rotateWorkerToken: true });
  const fresh = (await m1.getCluster()).rootCa!.joinTokens!.worker;
  assert.notEqual(fresh, old);
  await assert.rejects(cluster.joinWithToken("w-old", cluster.get("m1").addr, old), /exited|invalid|token/i);
  await cluster.joinWithToken("w2", cluster.get("m1").addr, fresh);
});

test("demoting a manager is refused when it would lose quorum, with an error that says so", async () => {
  await cluster.kill("m3");
  try {
    await sleep(2500);
    const m2 = await node("m2");
    await assert.rejects(cluster.get("m1").control.updateNode(m2.id, m2.meta!.version, { ...m2.spec!, desiredRole: NodeRole.NODE_ROLE_WORKER }),
      (err: grpc.ServiceError) => err.code === grpc.status.FAILED_PRECONDITION && /would lose quorum: 1 of the remaining 2 managers are reachable, 2 needed/.test(err.details));
  } finally {
    await cluster.restart("m3");
  }
});

test("a worker promoted becomes a Raft voter; demoted again, it leaves Raft and keeps working as a worker", async () => {
  await setRole("w1", NodeRole.NODE_ROLE_MANAGER);
  await eventually("w1 is a reachable manager", async () => {
    const n = await node("w1");
    assert.ok(n.managerStatus?.reachable, JSON.stringify(n.managerStatus));
  }, 20_000);
  await eventually("the socket of w1 answers as a manager", () => cluster.get("w1").control.getCluster());
  await eventually("demotion accepted", () => setRole("w1", NodeRole.NODE_ROLE_WORKER), 10_000);
  await eventually("w1 left Raft", async () => {
    const n = await node("w1");
    assert.equal(n.managerStatus, undefined);
    assert.equal(n.role, NodeRole.NODE_ROLE_WORKER);
  }, 20_000);
  await eventually("w1 still heartbeats", async () => assert.equal((await node("w1")).status?.state, NodeState.NODE_STATE_READY));
});

test("a node that is up is removed only with force; a removed node is refused from then on; a manager must be demoted first", async () => {
  const m1 = cluster.get("m1").control;
  const m3 = await node("m3");
  await assert.rejects(m1.removeNode(m3.id, true), /must be demoted to worker before removal/);
  const w2 = await node("w2");
  await assert.rejects(m1.removeNode(w2.id, false), /is not down and can't be removed/);
  await m1.removeNode(w2.id, true);
  await assert.rejects(m1.getNode(w2.id), /not found/);
  // The removed node's certificate no longer opens anything.
  const removed = tcpControl("m1", clientCredentials(identityOf("w2")));
  await assert.rejects(removed.getCluster(), (err: grpc.ServiceError) => err.code === grpc.status.PERMISSION_DENIED);
  removed.close();
  await sleep(1500);
  await assert.rejects(m1.getNode(w2.id), /not found/, "its heartbeats did not bring it back");
});

test("--force-new-cluster recovers a cluster from one surviving manager's data, keeping its state", async () => {
  const m1 = cluster.get("m1").control;
  const c = await m1.getCluster();
  await m1.updateCluster({ version: c.meta!.version, spec: { ...c.spec!, annotations: { name: "default", labels: { kept: "yes" } } } });
  // An acknowledged write is on a majority's disks, not yet on every manager's: --force-new-cluster
  // keeps what the surviving manager holds. Each has it a few milliseconds later.
  await sleep(500);
  for (const m of ["m1", "m2", "m3", "w1"]) await cluster.kill(m);
  await cluster.restart("m1", ["--force-new-cluster"]);
  await eventually("a write on the recovered cluster", async () => {
    const now = await m1.getCluster();
    assert.equal(now.spec?.annotations?.labels.kept, "yes");
    await m1.updateCluster({ version: now.meta!.version, spec: { ...now.spec!, annotations: { name: "default", labels: { kept: "yes", after: "recovery" } } } });
  }, 15_000);
  const { nodes } = await m1.listNodes();
  assert.deepEqual(nodes.filter((n) => n.managerStatus).map((n) => n.description?.hostname), ["m1"]);
});
