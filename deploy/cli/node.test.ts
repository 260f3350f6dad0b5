import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { NodeAvailability, NodeRole } from "../../proto/gen/specs.ts";
import { FakeStatus, fakePerTest, Ids } from "./testing.ts";

const session = fakePerTest("node");
const run = session.run;

test("node ls: Docker's table, sorted by hostname (worker-9 before worker-10), the answering node marked *", async () => {
  const r = await run("ls");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "ID                            HOSTNAME    STATUS   AVAILABILITY   MANAGER STATUS",
      "m1leader00000000000000000 *   mgr-1       Ready    Active         Leader",
      "m2follower000000000000000     mgr-2       Ready    Active         Unreachable",
      "w9worker00000000000000000     worker-9    Ready    Pause",
      "w10worker0000000000000000     worker-10   Down     Drain",
      "",
    ].join("\n"),
  );
  assert.deepEqual(session.fake.requests("listNodes"), [{ roles: [] }]);
  assert.equal((await run("list")).stdout, r.stdout);
});

test("node ls -q prints only ids; --format json prints one object per line", async () => {
  const quiet = await run("ls", "-q");
  assert.equal(quiet.stdout, `${Ids.LEADER}\n${Ids.FOLLOWER}\n${Ids.WORKER9}\n${Ids.WORKER10}\n`);

  const json = await run("ls", "--format", "json");
  const lines = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 4);
  assert.deepEqual(lines[0], { ID: Ids.LEADER, Self: true, Hostname: "mgr-1", Status: "Ready", Availability: "Active", ManagerStatus: "Leader", Role: "manager" });
  assert.deepEqual(lines[3], { ID: Ids.WORKER10, Self: false, Hostname: "worker-10", Status: "Down", Availability: "Drain", ManagerStatus: "", Role: "worker" });
  assert.equal((await run("ls", "--format", "table")).stdout.split("\n")[0]!.slice(0, 2), "ID");
});

test("node ls --filter role=... asks the server for those roles only", async () => {
  const managers = await run("ls", "--filter", "role=manager", "-q");
  assert.equal(managers.stdout, `${Ids.LEADER}\n${Ids.FOLLOWER}\n`);
  await run("ls", "-f", "role=worker", "-f", "role=manager");
  assert.deepEqual(session.fake.requests("listNodes"), [{ roles: [NodeRole.NODE_ROLE_MANAGER] }, { roles: [NodeRole.NODE_ROLE_WORKER, NodeRole.NODE_ROLE_MANAGER] }]);

  const bad = await run("ls", "--filter", "name=mgr-1");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^Error: invalid filter "name=mgr-1": must be role=worker or role=manager\n\nUsage: {2}shoal node ls/);
  const badFormat = await run("ls", "--format", "yaml");
  assert.match(badFormat.stderr, /^Error: invalid format "yaml": must be table or json\n/);
  assert.equal(session.fake.requests("listNodes").length, 2);
});

test("node inspect: a JSON array of the nodes named by hostname, id prefix or id", async () => {
  const r = await run("inspect", "worker-9", "m2f", Ids.LEADER);
  assert.equal(r.code, 0, r.stderr);
  const nodes = JSON.parse(r.stdout) as { id: string; spec: { availability: number } }[];
  assert.deepEqual(nodes.map((n) => n.id), [Ids.WORKER9, Ids.FOLLOWER, Ids.LEADER]);
  assert.equal(nodes[0]!.spec.availability, NodeAvailability.NODE_AVAILABILITY_PAUSE);
  assert.ok(r.stdout.startsWith('[\n    {\n        "id": "w9worker'), "indented as docker inspect");
  assert.deepEqual(session.fake.requests("getNode"), [{ node: "worker-9" }, { node: "m2f" }, { node: Ids.LEADER }]);
});

test("node inspect: a node not found is reported, the others still printed, exit 1", async () => {
  const r = await run("inspect", "nope", "mgr-2", "w");
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "Error: node nope not found\nError: node w is ambiguous (2 matches)\n");
  assert.deepEqual((JSON.parse(r.stdout) as { id: string }[]).map((n) => n.id), [Ids.FOLLOWER]);
  const none = await run("inspect", "nope");
  assert.equal(none.stdout, "[]\n");
});

test("node inspect --pretty: labelled fields, empty ones left out", async () => {
  const r = await run("inspect", "--pretty", "mgr-1", "worker-10");
  assert.equal(r.code, 0, r.stderr);
  const [leader, worker] = r.stdout.split("\n\n");
  assert.equal(
    leader,
    [
      "ID:          m1leader00000000000000000",
      "Hostname:    mgr-1",
      "Joined at:   2025-01-02T03:04:05.000Z",
      "Updated at:  2025-01-02T03:04:06.000Z",
      "Role:        manager",
      "Labels:",
      " - disk=ssd",
      " - zone=a",
      "Status:",
      " State:         Ready",
      " Availability:  Active",
      " Address:       10.0.0.9",
      "Manager Status:",
      " Address:      10.0.0.1:4242",
      " Raft Status:  Reachable",
      " Leader:       Yes",
      "Platform:",
      " Operating System:  linux",
      " Architecture:      x86_64",
      "Resources:",
      " CPUs:    4",
      " Memory:  8GiB",
    ].join("\n"),
  );
  assert.doesNotMatch(worker!, /Manager Status|Labels|Platform|Resources/);
  assert.match(worker!, /^ID: +w10worker0000000000000000\n[^]* State: +Down\n Availability: +Drain\n/);
});

test("node update: reads the node, changes its spec, writes it with the version it read, prints the id", async () => {
  const r = await run("update", "--availability", "drain", "--label-add", "rack=r1", "--label-add", "empty", "--label-rm", "zone", "mgr-1");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${Ids.LEADER}\n`);
  assert.deepEqual(session.fake.requests("getNode"), [{ node: "mgr-1" }]);
  assert.deepEqual(session.fake.requests("updateNode"), [
    {
      nodeId: Ids.LEADER,
      version: 10,
      spec: { annotations: { name: "", labels: { disk: "ssd", rack: "r1", empty: "" } }, desiredRole: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN },
    },
  ]);

  // The next update reads the new version.
  assert.equal((await run("update", "--role", "manager", "--availability", "active", "m1")).code, 0);
  const second = session.fake.requests("updateNode")[1]!;
  assert.equal(second.version, 11);
  assert.equal(second.spec!.availability, NodeAvailability.NODE_AVAILABILITY_ACTIVE);
  assert.deepEqual(second.spec!.annotations!.labels, { disk: "ssd", rack: "r1", empty: "" });
});

test("node update --role changes the desired role; the server's refusal of a stale version is shown", async () => {
  assert.equal((await run("update", "--role", "manager", "worker-9")).code, 0);
  assert.equal(session.fake.requests("updateNode")[0]!.spec!.desiredRole, NodeRole.NODE_ROLE_MANAGER);

  session.fake.failures.set("updateNode", new FakeStatus(status.ABORTED, "update out of sequence: node w9 changed since it was read"));
  const r = await run("update", "--availability", "pause", "worker-9");
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "Error: update out of sequence: node w9 changed since it was read\n");
});

test("node update refuses, before writing, what cannot be done", async () => {
  const missingLabel = await run("update", "--label-rm", "nope", "mgr-1");
  assert.equal(missingLabel.code, 1);
  assert.equal(missingLabel.stderr, 'Error: label "nope" is not set on node mgr-1; nothing was changed\n');

  const usage: [string[], string][] = [
    [["update", "mgr-1"], "nothing to update: give --availability, --label-add, --label-rm or --role"],
    [["update", "--availability", "x", "mgr-1"], 'invalid availability "x": must be active, pause or drain'],
    [["update", "--role", "boss", "mgr-1"], 'invalid role "boss": must be worker or manager'],
    [["update", "--label-add", "=v", "mgr-1"], 'invalid label "=v": the key is empty; use key=value'],
  ];
  for (const [argv, message] of usage) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.ok(r.stderr.startsWith(`Error: ${message}\n\nUsage:  shoal node update [OPTIONS] NODE\n`), r.stderr);
  }
  assert.deepEqual(session.fake.requests("updateNode"), []);
});

test("node promote / demote set the desired role, as docker words it; a node already there is left alone", async () => {
  const promote = await run("promote", "worker-9", "mgr-1");
  assert.equal(promote.code, 0, promote.stderr);
  assert.equal(promote.stdout, "Node worker-9 promoted to a manager in the cluster.\nNode mgr-1 is already a manager.\n");
  assert.deepEqual(session.fake.requests("updateNode").map((u) => [u.nodeId, u.version, u.spec!.desiredRole, u.spec!.availability]), [
    [Ids.WORKER9, 10, NodeRole.NODE_ROLE_MANAGER, NodeAvailability.NODE_AVAILABILITY_PAUSE],
  ]);

  const demote = await run("demote", "mgr-2", "worker-10");
  assert.equal(demote.stdout, "Manager mgr-2 demoted in the cluster.\nNode worker-10 is already a worker.\n");
  assert.equal(session.fake.requests("updateNode")[1]!.spec!.desiredRole, NodeRole.NODE_ROLE_WORKER);

  session.fake.failures.set("updateNode", new FakeStatus(status.FAILED_PRECONDITION, "can't demote node m1: 1 of 2 managers would remain, quorum lost"));
  const refused = await run("demote", "mgr-1", "nope");
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, "");
  assert.equal(refused.stderr, "Error: can't demote node m1: 1 of 2 managers would remain, quorum lost\nError: node nope not found\n");
});

test("node rm: removes by resolved id, needs --force for a node that is up, goes on past failures", async () => {
  const up = await run("rm", "worker-9");
  assert.equal(up.code, 1);
  assert.equal(up.stderr, `Error: node ${Ids.WORKER9} is not down and can't be removed; use --force\n`);

  const r = await run("rm", "nope", "worker-10");
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "worker-10\n");
  assert.equal(r.stderr, "Error: node nope not found\n");

  const forced = await run("remove", "-f", "w9");
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(forced.stdout, "w9\n");
  assert.deepEqual(session.fake.requests("removeNode"), [
    { nodeId: Ids.WORKER9, force: false },
    { nodeId: Ids.WORKER10, force: false },
    { nodeId: Ids.WORKER9, force: true },
  ]);
  assert.deepEqual(session.fake.state.nodes.map((n) => n.id).sort(), [Ids.LEADER, Ids.FOLLOWER].sort());
});
