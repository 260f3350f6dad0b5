/**
 * Durable Raft state on `level` (LevelDB) under a node's data directory: the log, the hard
 * state and the latest snapshot. Reads are served from an in-memory copy (the core's Storage
 * interface is synchronous); every write goes to LevelDB first, in one batch, with `sync` so it
 * is on disk (fsync) before the caller sends any message that depends on it (a batch that only
 * advances the commit index is not synced: see `save`).
 *
 * Keys: `e/<index as 16 hex digits>` → Entry; `hs` → HardState; `snap` → Snapshot.
 */
import { Level } from "level";
import type { Entry, HardState, Snapshot } from "../../proto/gen/raft.ts";
import { EntryCodec, HardStateCodec, SnapshotCodec } from "../../proto/gen/raft.ts";
import type { Ready } from "./raw-node.ts";
import { MemoryStorage } from "./storage.ts";
import type { InitialState, Storage } from "./storage.ts";

const HARD_STATE_KEY = "hs";
const SNAPSHOT_KEY = "snap";

function entryKey(index: number): string {
  return `e/${index.toString(16).padStart(16, "0")}`;
}

type BatchOp = { type: "put"; key: string; value: Uint8Array } | { type: "del"; key: string };

/** Raft storage persisted in LevelDB, read from memory. */
export class LevelStorage implements Storage {
  /** A local snapshot being written, if any. */
  private snapshotWrite: Promise<void> | undefined;

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    private mem: MemoryStorage,
  ) {}

  /** Opens (or creates) the storage in directory `path` and loads what it holds. */
  static async open(path: string): Promise<LevelStorage> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.open();
    const mem = new MemoryStorage();
    const snapBytes = await db.get(SNAPSHOT_KEY);
    if (snapBytes) mem.applySnapshot(SnapshotCodec.decode(snapBytes));
    const hs = await db.get(HARD_STATE_KEY);
    if (hs) mem.setHardState(HardStateCodec.decode(hs));
    const entries: Entry[] = [];
    for await (const value of db.values({ gt: entryKey(mem.firstIndex() - 1), lt: "e0" })) {
      entries.push(EntryCodec.decode(value));
    }
    // Entries must be contiguous from the snapshot on; anything else means a damaged store.
    let expected = mem.firstIndex();
    for (const e of entries) {
      if (e.index !== expected) throw new Error(`raft storage at ${path} is damaged: expected entry ${expected}, found ${e.index}`);
      expected++;
    }
    mem.append(entries);
    return new LevelStorage(db, mem);
  }

  /** {@inheritDoc Storage.initialState} */
  initialState(): InitialState {
    return this.mem.initialState();
  }

  /** {@inheritDoc Storage.entries} */
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.mem.entries(lo, hi, maxSize);
  }

  /** {@inheritDoc Storage.term} */
  term(index: number): number | undefined {
    return this.mem.term(index);
  }

  /** {@inheritDoc Storage.firstIndex} */
  firstIndex(): number {
    return this.mem.firstIndex();
  }

  /** {@inheritDoc Storage.lastIndex} */
  lastIndex(): number {
    return this.mem.lastIndex();
  }

  /** {@inheritDoc Storage.snapshot} */
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  /**
   * Persists what a Ready says must be persisted (snapshot, entries, hard state) in one batch,
   * then updates the in-memory copy. Resolves once the data is on disk: the batch is synced
   * unless `mustSync` is false, which the core says of a Ready whose only change is the commit
   * index (etcd's MustSync rule: a commit index lost in a crash is learnt again from the leader).
   */
  async save(rd: Pick<Ready, "snapshot" | "entries" | "hardState"> & { mustSync?: boolean }): Promise<void> {
    // A snapshot from the leader must land on disk after any local snapshot still being written,
    // or the older one could overwrite it.
    if (rd.snapshot && this.snapshotWrite) await this.snapshotWrite;
    const ops: BatchOp[] = [];
    const oldFirst = this.mem.firstIndex();
    const oldLast = this.mem.lastIndex();
    if (rd.snapshot) {
      ops.push({ type: "put", key: SNAPSHOT_KEY, value: SnapshotCodec.encode(rd.snapshot) });
      // Everything the snapshot replaces goes.
      for (let i = oldFirst; i <= oldLast; i++) ops.push({ type: "del", key: entryKey(i) });
    }
    if (rd.entries.length > 0) {
      for (const e of rd.entries) ops.push({ type: "put", key: entryKey(e.index), value: EntryCodec.encode(e) });
      // A new leader may have replaced our tail with a shorter one: drop what is past its end.
      const newLast = rd.entries[rd.entries.length - 1]!.index;
      for (let i = newLast + 1; i <= oldLast; i++) ops.push({ type: "del", key: entryKey(i) });
    }
    if (rd.hardState) ops.push({ type: "put", key: HARD_STATE_KEY, value: HardStateCodec.encode(rd.hardState) });
    if (ops.length === 0) return;
    await this.db.batch(ops, { sync: rd.snapshot !== undefined || (rd.mustSync ?? true) });
    if (rd.snapshot) this.mem.applySnapshot(rd.snapshot);
    this.mem.append(rd.entries);
    if (rd.hardState) this.mem.setHardState(rd.hardState);
  }

  /**
   * Records a snapshot of the application's state at `index` and drops log entries up to
   * `compactTo` (keep some after the snapshot for followers that lag a little). Runs alongside
   * `save`: appends are not held up while a large snapshot is written.
   */
  snapshotAndCompact(snapshot: Snapshot, compactTo: number): Promise<void> {
    const write = (async () => {
      const meta = snapshot.metadata!;
      // A newer snapshot (from the leader) may have been installed meanwhile: then this one is moot.
      if (this.mem.snapshot().metadata!.index >= meta.index) return;
      await this.db.put(SNAPSHOT_KEY, SnapshotCodec.encode(snapshot), { sync: true });
      // Entries up to the snapshot are no longer needed once it is on disk.
      await this.db.clear({ gte: entryKey(0), lte: entryKey(compactTo) });
      if (this.mem.snapshot().metadata!.index >= meta.index || this.mem.term(meta.index) === undefined) return;
      this.mem.createSnapshot(meta.index, meta.confState!, snapshot.data);
      this.mem.compact(Math.max(compactTo, this.mem.firstIndex() - 1));
    })();
    this.snapshotWrite = write;
    return write.finally(() => {
      if (this.snapshotWrite === write) this.snapshotWrite = undefined;
    });
  }

  /**
   * Replaces everything with `snapshot` and `hs`, dropping every entry (used when forcing a new
   * cluster from this node's data). Unlike `save`, the snapshot need not be newer.
   */
  async resetTo(snapshot: Snapshot, hs: HardState): Promise<void> {
    await this.db.clear({ gte: entryKey(0), lte: entryKey(Number.MAX_SAFE_INTEGER) });
    await this.db.batch([
      { type: "put", key: SNAPSHOT_KEY, value: SnapshotCodec.encode(snapshot) },
      { type: "put", key: HARD_STATE_KEY, value: HardStateCodec.encode(hs) },
    ], { sync: true });
    const mem = new MemoryStorage();
    mem.applySnapshot(snapshot);
    mem.setHardState(hs);
    this.mem = mem;
  }

  /** Closes the database, once a snapshot being written is done. */
  async close(): Promise<void> {
    await this.snapshotWrite?.catch(() => {});
    await this.db.close();
  }
}
