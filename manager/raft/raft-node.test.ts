import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { RaftService } from "../../proto/gen/raftrpc.ts";
import type { RaftMember } from "../../proto/gen/raftrpc.ts";
import { LevelStorage } from "./level-storage.ts";
import { PROPOSAL_ID_BYTES, RaftNode } from "./raft-node.ts";
import type { StateMachine } from "./state-machine.ts";
import { GrpcTransport } from "./transport.ts";
import { waitFor } from "./testing.ts";
import { freePorts } from "../../test/free-ports.ts";
import { RaftError } from "./errors.ts";

/** A replicated list of strings; apply returns the index. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  apply(index: number, data: Uint8Array): number {
    this.items.push(new TextDecoder().decode(data));
    return index;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(_index: number, data: Uint8Array): void {
    this.items = data.byteLength ? (JSON.parse(new TextDecoder().decode(data)) as string[]) : [];
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Manager {
  raftId: number;
  dir: string;
  addr: string;
  node: RaftNode<number>;
  machine: ListMachine;
  server: grpc.Server;
  transport: GrpcTransport;
  storage: LevelStorage;
  /** Raft message streams other managers opened to this one (snapshots not counted). */
  streamsOpened: { count: number };
}

/** An address on 127.0.0.1 that was free a moment ago. */
async function freeAddr(): Promise<string> {
  const [port] = await freePorts(1);
  return `127.0.0.1:${port}`;
}

interface ManagerOptions {
  raftId: number;
  dir: string;
  addr: string;
  /** Make the storage a new cluster whose only member is this manager. */
  bootstrap?: boolean;
  snapshotInterval?: number;
  proposalTimeoutMs?: number;
  /** Ticks of the election timeout (default 10). */
  electionTick?: number;
  /** For a joiner with empty storage: the members the leader named. */
  peers?: RaftMember[];
}

/** Starts a manager (Raft node, gRPC transport and server) from `dir`, listening on `addr`. */
async function startManager(o: ManagerOptions): Promise<Manager> {
  const { raftId, dir, addr } = o;
  const storage = await LevelStorage.open(join(dir, "raft"));
  const machine = new ListMachine();
  if (o.bootstrap) await RaftNode.bootstrap(storage, { raftId, nodeId: `node-${raftId}`, addr }, machine);
  const server = new grpc.Server();
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const node = new RaftNode<number>({
    raftId, storage, stateMachine: machine, tickMs: 20, snapshotInterval: o.snapshotInterval ?? 10_000, keepEntriesAfterSnapshot: 5, peers: o.peers,
    proposalTimeoutMs: o.proposalTimeoutMs, electionTick: o.electionTick,
  });
  const transport = new GrpcTransport({ raftId, members: node.members, sink: node, credentials: grpc.credentials.createInsecure() });
  node.setTransport(transport);
  const streamsOpened = { count: 0 };
  server.addService(RaftService, transport.serviceImplementation((call) => {
    if (call.getPath() === RaftService.stream.path) streamsOpened.count++;
  }));
  node.start();
  return { raftId, dir, addr, node, machine, server, transport, storage, streamsOpened };
}

/** Restarts a stopped manager from its directory. */
function restartManager(m: Manager, snapshotInterval?: number): Promise<Manager> {
  return startManager({ raftId: m.raftId, dir: m.dir, addr: m.addr, snapshotInterval });
}

async function stopManager(m: Manager): Promise<void> {
  await m.node.stop();
  m.transport.close();
  m.server.forceShutdown();
  await m.storage.close();
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "shoal-raft-"));
  dirs.push(d);
  return d;
}

async function threeManagers(o: { snapshotInterval?: number; proposalTimeoutMs?: number; electionTick?: number } = {}): Promise<Manager[]> {
  const { snapshotInterval, proposalTimeoutMs, electionTick } = o;
  const first = await startManager({ raftId: 1, dir: tempDir(), addr: await freeAddr(), bootstrap: true, snapshotInterval, proposalTimeoutMs, electionTick });
  await waitFor("the first manager to lead", () => first.node.isLeader);
  const ms = [first];
  for (let i = 0; i < 2; i++) {
    // The joiner's raft id comes from the leader, which needs its address first.
    const addr = await freeAddr();
    const raftId = await first.node.addLearner(`node-joiner-${i}`, addr);
    ms.push(await startManager({ raftId, dir: tempDir(), addr, snapshotInterval, electionTick, peers: first.node.members.list() }));
  }
  await waitFor("both joiners to become voters", () => {
    void first.node.promoteCaughtUpLearners().catch(() => {});
    return first.node.node.status().confState.voters.length === 3;
  });
  return ms;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test("three managers over gRPC: writes commit on all, survive the leader's loss and a restart", async () => {
  const ms = await threeManagers();
  try {
    const leader = ms.find((m) => m.node.isLeader)!;
    await Promise.all(["a", "b", "c"].map((v) => leader.node.propose(enc(v))));
    await waitFor("replication", () => ms.every((m) => m.machine.items.length === 3));
    // Stop the leader: the others elect a new one and keep accepting writes.
    await stopManager(leader);
    const rest = ms.filter((m) => m !== leader);
    await waitFor("a new leader", () => rest.some((m) => m.node.isLeader), 3000);
    const next = rest.find((m) => m.node.isLeader)!;
    await next.node.propose(enc("d"));
    // Restart the old leader from its disk: it comes back as a follower with everything.
    const back = await restartManager(leader);
    ms[ms.indexOf(leader)] = back;
    await waitFor("the restarted manager to catch up", () => back.machine.items.join() === "a,b,c,d");
    assert.equal(back.node.isLeader, false);
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("every manager keeps a stream open to every other, so that an election's first message needs no handshake", async () => {
  const ms = await threeManagers();
  try {
    // Only the leader talks to followers in Raft; the followers' streams to each other are opened on the tick.
    await waitFor("a stream from both other managers to each one", () => ms.every((m) => m.streamsOpened.count >= 2));
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("proposals made in one turn share one buffer in the log, and each writer gets its own entry's result", async () => {
  const ms = await threeManagers();
  try {
    const leader = ms.find((m) => m.node.isLeader)!;
    const values = ["one", "two", "three", "four"];
    const indexes = await Promise.all(values.map((v) => leader.node.propose(enc(v))));
    assert.deepEqual(indexes, indexes.map((_, i) => indexes[0]! + i), "one index each, in order");
    // A majority may have answered before the leader's own disk write ended.
    await waitFor("the leader's copy on its disk", () => leader.storage.lastIndex() >= indexes[3]!);
    const entries = leader.storage.entries(indexes[0]!, indexes[3]! + 1, Infinity);
    assert.deepEqual(entries.map((e) => new TextDecoder().decode(e.data.subarray(PROPOSAL_ID_BYTES))), values);
    assert.equal(new Set(entries.map((e) => e.data.buffer)).size, 1, "framed in one buffer");
    await waitFor("replication", () => ms.every((m) => m.machine.items.join() === values.join()));
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("a leader whose disk write hangs still commits the writes made meanwhile, through its followers", async () => {
  const ms = await threeManagers();
  let release = (): void => {};
  try {
    const leader = ms.find((m) => m.node.isLeader)!;
    const followers = ms.filter((m) => m !== leader);
    // The leader's next disk write with entries hangs until released (a stalled disk).
    const save = leader.storage.save.bind(leader.storage);
    const released = new Promise<void>((resolve) => (release = resolve));
    let hanging = false;
    leader.storage.save = async (rd) => {
      if (rd.entries.length > 0 && !hanging) {
        hanging = true;
        await released;
      }
      return save(rd);
    };
    const a = leader.node.propose(enc("a"));
    await waitFor("the leader's disk write to hang", () => hanging);
    // "b" is proposed while "a"'s disk write hangs: its appends go out all the same, and the
    // followers' copies make a majority.
    const b = leader.node.propose(enc("b"));
    const indexes = await Promise.race([Promise.all([a, b]), new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("writes waited for the leader's disk")), 3000))]);
    await waitFor("the followers to apply both", () => followers.every((m) => m.machine.items.join() === "a,b"));
    assert.equal(leader.machine.items.join(), "a,b");
    assert.ok(leader.storage.lastIndex() < indexes[0], "neither was on the leader's disk yet");
    release();
    await waitFor("the leader's own copy to be persisted", () => leader.storage.lastIndex() >= indexes[1]);
  } finally {
    release(); // a manager stops only once its disk write is done
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("a follower refuses writes naming the leader; without a majority, writes fail fast naming the count", async () => {
  const ms = await threeManagers();
  try {
    const leader = ms.find((m) => m.node.isLeader)!;
    const follower = ms.find((m) => !m.node.isLeader)!;
    await assert.rejects(follower.node.propose(enc("x")), (err: unknown) =>
      err instanceof RaftError && err.leader === leader.raftId && /not the leader/.test(err.message));
    for (const m of ms.filter((x) => x !== leader)) await stopManager(m);
    await new Promise((r) => setTimeout(r, 20 * 10 * 2 + 100));
    const started = Date.now();
    await assert.rejects(leader.node.propose(enc("y")), /quorum lost: 1 of 3 managers reachable, 2 needed|no leader elected: the cluster may have lost quorum \(1 of 3 managers reachable, 2 needed\)/);
    assert.ok(Date.now() - started < 100, "fails fast");
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("a manager far behind catches up from a snapshot streamed in chunks, larger than gRPC's 4 MB limit", async () => {
  const ms = await threeManagers({ snapshotInterval: 20 });
  try {
    const leader = ms.find((m) => m.node.isLeader)!;
    const lagging = ms.find((m) => !m.node.isLeader)!;
    await stopManager(lagging);
    const big = "z".repeat(512 * 1024);
    for (let i = 0; i < 24; i++) await leader.node.propose(enc(`${i}:${big}`)); // ~12 MB of state
    // Snapshots are taken and written in the background: the last writes can be answered first.
    await waitFor("the leader to compact its log", () => leader.storage.firstIndex() > 5, 10_000);
    const back = await restartManager(lagging, 20);
    ms[ms.indexOf(lagging)] = back;
    await waitFor("the lagging manager to install the snapshot", () => back.machine.items.length === 24, 10_000);
    assert.ok(back.storage.snapshot().data.byteLength > 4 * 1024 * 1024);
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});

test("snapshots come every N entries, but a large state waits until the log since the last snapshot is twice as large as it", async () => {
  const m = await startManager({ raftId: 1, dir: tempDir(), addr: await freeAddr(), bootstrap: true, snapshotInterval: 5 });
  try {
    await waitFor("a leader", () => m.node.isLeader);
    const snapshotIndex = (): number => m.storage.snapshot().metadata!.index;
    const settled = async (): Promise<number> => {
      await new Promise((r) => setTimeout(r, 100)); // a snapshot is written in the background
      return snapshotIndex();
    };
    for (let i = 0; i < 6; i++) await m.node.propose(enc(`small ${i}`));
    const first = await settled();
    assert.ok(first > 1, `small state: a snapshot after 5 entries (snapshot at ${first})`);
    // A state of about 300 kB: its snapshot comes once the log since the last one is twice that.
    // (The first big entry makes the log since the small snapshot far larger than it.)
    await m.node.propose(enc("big".repeat(100_000)));
    for (let i = 0; i < 6; i++) await m.node.propose(enc(`small ${i}`));
    const big = await settled();
    assert.ok(big > first, "the entry that made the log large is snapshotted");
    for (let i = 0; i < 20; i++) await m.node.propose(enc(`small again ${i}`));
    assert.equal(await settled(), big, "20 small entries are far less than the 300 kB snapshot: no new one");
    // About 450 kB of log: more than the snapshot, even stretched by a tenth, but not twice it.
    await m.node.propose(enc("big".repeat(150_000)));
    for (let i = 0; i < 6; i++) await m.node.propose(enc(`small ${i}`));
    assert.equal(await settled(), big, "a log since the snapshot of one and a half times its size: no new one");
    // About 1 MB: more than twice the snapshot, even with the thresholds stretched by a tenth.
    await m.node.propose(enc("big".repeat(100_000)));
    await m.node.propose(enc("big".repeat(100_000)));
    for (let i = 0; i < 6; i++) await m.node.propose(enc(`small ${i}`));
    assert.ok(await settled() > big, "once the log since has grown to twice the snapshot, the next one comes");
  } finally {
    await stopManager(m);
  }
});

test("a write that cannot commit fails after the proposal timeout, saying it may or may not be applied", async () => {
  // Elections of 1 s: the leader, which checks its quorum once per election timeout, steps down
  // at least that long after the followers go, well after the write's 300 ms. With 200 ms it
  // sometimes stepped down first, failing the write as "leadership was lost" (1 run in about 65).
  const ms = await threeManagers({ proposalTimeoutMs: 300, electionTick: 50 });
  const [leader, ...followers] = ms as [Manager, Manager, Manager];
  try {
    await leader.node.propose(enc("committed"));
    // The followers go; for a while the leader still counts them reachable and takes the write.
    for (const m of followers) await stopManager(m);
    const started = Date.now();
    await assert.rejects(leader.node.propose(enc("stranded")), /the write was not committed within 300 ms; it may or may not be applied later/);
    const waited = Date.now() - started;
    assert.ok(waited >= 300 && waited < 1_000, `failed after ${waited} ms`);
  } finally {
    for (const m of ms) await stopManager(m).catch(() => {});
  }
});
