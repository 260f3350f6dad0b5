/**
 * `npm run bench:raft-core`: throughput of the Raft core alone. Three nodes in one process, no
 * IO and no serialization: messages are handed from node to node, storage is in memory. The
 * leader proposes batches of entries; the figure is entries committed (and applied) per second
 * on the leader, and CPU time per entry over the whole cluster. One JSON line per batch size.
 *
 * The core must not be the bottleneck: the goal is 200,000 entries per second on one core.
 */
import type { Message } from "../../proto/gen/raft.ts";
import { RawNode } from "../../manager/raft/raw-node.ts";
import { seededRandom } from "../../manager/raft/random.ts";
import { MemoryStorage } from "../../manager/raft/storage.ts";
import { StateType } from "../../manager/raft/raft.ts";

/** Seconds each batch size runs for. */
const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Size of each entry's data: a small store transaction. */
const ENTRY_BYTES = 128;
/** Entries between compactions, so memory stays bounded as in a real node. */
const COMPACT_EVERY = 100_000;

interface BenchNode {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
  lastCompact: number;
}

/**
 * A lean cluster of its own rather than manager/raft/test-cluster.ts, which keeps every
 * delivered message and applied entry for assertions: that bookkeeping would be what is measured.
 */
function makeCluster(): BenchNode[] {
  const voters = [1, 2, 3];
  return voters.map((id) => {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: new Uint8Array(), metadata: { index: 1, term: 1, confState: { voters, learners: [] } } });
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    return { node: new RawNode({ id, storage, random: seededRandom(id) }), storage, applied: 0, lastCompact: 1 };
  });
}

/** Handles every Ready until the cluster is quiet; returns entries the leader applied. */
function pump(nodes: BenchNode[]): number {
  let leaderApplied = 0;
  let queue: Message[] = [];
  for (;;) {
    let any = false;
    for (const bn of nodes) {
      if (!bn.node.hasReady()) continue;
      any = true;
      const rd = bn.node.ready();
      bn.storage.append(rd.entries);
      if (rd.hardState) bn.storage.setHardState(rd.hardState);
      for (const m of rd.messages) queue.push(m);
      const n = rd.committedEntries.length;
      bn.applied += n;
      if (bn.node.raft.state === StateType.LEADER) leaderApplied += n;
      bn.node.advance(rd);
      const applied = bn.node.raft.raftLog.applied;
      if (applied - bn.lastCompact >= COMPACT_EVERY) {
        bn.storage.createSnapshot(applied, bn.node.raft.prs.confState(), new Uint8Array());
        bn.storage.compact(applied);
        bn.lastCompact = applied;
      }
    }
    if (queue.length > 0) {
      any = true;
      const msgs = queue;
      queue = [];
      for (const m of msgs) nodes[m.to - 1]!.node.step(m);
    }
    if (!any) return leaderApplied;
  }
}

function run(batch: number): Record<string, number | string> {
  const nodes = makeCluster();
  nodes[0]!.node.campaign();
  pump(nodes);
  const leader = nodes[0]!.node;
  if (leader.raft.state !== StateType.LEADER) throw new Error("node 1 did not become leader");
  const payloads = Array.from({ length: batch }, (_, i) => new Uint8Array(ENTRY_BYTES).fill(i & 0xff));
  let committed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < RUN_SECONDS * 1000) {
    for (let i = 0; i < 16; i++) {
      leader.proposeBatch(payloads);
      committed += pump(nodes);
    }
    elapsed = performance.now() - t0;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMicros = cpu.user + cpu.system;
  for (const bn of nodes) {
    if (bn.node.raft.raftLog.committed !== leader.raft.raftLog.committed) throw new Error("followers did not commit everything");
  }
  return {
    bench: "raft-core",
    nodes: 3,
    batch,
    entryBytes: ENTRY_BYTES,
    entries: committed,
    seconds: Number((elapsed / 1000).toFixed(2)),
    entriesPerSec: Math.round(committed / (elapsed / 1000)),
    cpuMicrosPerEntry: Number((cpuMicros / committed).toFixed(3)),
  };
}

for (const batch of [1, 64, 1024]) console.log(JSON.stringify(run(batch)));
