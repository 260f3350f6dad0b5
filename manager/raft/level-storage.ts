/**
 * Durable Raft state on `level` (LevelDB) under a node's data directory: the log, the hard
 * state and the latest snapshot. Reads are served from an in-memory copy (the core's Storage
 * interface is synchronous); every write goes to disk first, with `sync` (fsync), before the
 * caller sends any message that depends on it. A Ready that only advances the commit index is
 * not written at once: see `save`.
 *
 * Keys: `b/<first index as 16 hex digits>` → EntryBatch; `hs` → HardState; `snap-meta` →
 * SnapshotMetadata; `snap-file` → the name of the file holding the snapshot's data, in the
 * directory `snapshots` inside LevelDB's own (LevelDB leaves names it does not know alone).
 *
 * A snapshot's data is megabytes, and is written as a file of its own, not into LevelDB: the
 * file is written (flushed a megabyte at a time, so that the log's synced writes do not wait
 * behind all of it) and synced (and its directory), then one small synced batch writes
 * `snap-meta` and `snap-file`, which make it current; every other snapshot file is then
 * deleted, and again when the storage is opened, so a crash in between leaves a file that
 * nothing names, never a current snapshot without its data. In LevelDB the data went through its
 * log, then into its tables and down their levels, compressed and checksummed each time, on
 * every manager at once: persisting a snapshot of 100,000 configs (32 MB) took 67–165 ms of CPU,
 * not counting the compactions that followed, against 15–19 ms as a file (`npm run
 * bench:snapshot`, run on this code and on the code before it).
 *
 * Data directories of earlier versions kept the data in LevelDB, in 1 MB chunks under
 * `snap-data/<snapshot index>-<random>/<n>` named by `snap-chunks`, or before that as one value
 * under `snap-data`; both are still read, and their keys deleted once a newer snapshot is
 * current.
 *
 * The entries a Ready persists together are one record, keyed by the first one's index: one
 * LevelDB write per Ready, however many writers the group commit serves (a record per entry
 * cost a leader a tenth of its time per write). A record that starts at or before the end of
 * earlier ones replaces their entries from its first index on: a save deletes the records it
 * replaces whole, and opening the store cuts the tail of the one it overlaps.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Level } from "level";
import type { Entry, HardState, Snapshot } from "../../proto/gen/raft.ts";
import { EntryBatchCodec, HardStateCodec, SnapshotMetadataCodec } from "../../proto/gen/raft.ts";
import type { Ready } from "./raw-node.ts";
import { MemoryStorage } from "./storage.ts";
import type { InitialState, Storage } from "./storage.ts";

const HARD_STATE_KEY = "hs";
/** The snapshot key of the first storage layout (a record per entry), which this one does not read. */
const FIRST_LAYOUT_SNAPSHOT_KEY = "snap";
const SNAPSHOT_META_KEY = "snap-meta";
/** The name of the current snapshot's data file. */
const SNAPSHOT_FILE_KEY = "snap-file";
/** The directory of snapshot data files, inside LevelDB's. */
const SNAPSHOTS_DIR = "snapshots";
/** In the third layout (data in chunks), where the current snapshot's data chunks are: their key prefix. Still read. */
const SNAPSHOT_CHUNKS_KEY = "snap-chunks";
/** The snapshot data's key in the second layout (one value), which is still read. */
const SINGLE_SNAPSHOT_DATA_KEY = "snap-data";
/**
 * A commit index that only advanced goes to disk with the next write, or after this long when no
 * write comes (an idle cluster). Under load the next write comes within a round trip.
 */
export const COMMIT_WRITE_DELAY_MS = 50;

/**
 * A new file name for the data of the snapshot at `index`: random too, since a snapshot may
 * replace one at the same index (--force-new-cluster) and must not write over its file.
 */
function newSnapshotFileName(index: number): string {
  return `${index.toString(16).padStart(16, "0")}-${randomBytes(4).toString("hex")}.snap`;
}

/**
 * A snapshot's data goes to disk this much at a time, each part flushed before the next is
 * written. Written whole and then synced, its tens of megabytes of dirty pages were flushed in
 * one go, and the synced writes of the log on the same disk (this manager's, and on one machine
 * the others') waited behind them: in a throwaway probe on this machine's disk (one-off), a
 * 4 KB fdatasync took up to 15–19 ms while 33 MB were written and synced beside it, and up to
 * 0.9–1.2 ms with the data flushed a megabyte at a time, in the same total time. On a disk
 * slower than this one's cache, the wait would be the whole file's.
 */
export const SNAPSHOT_FLUSH_BYTES = 1024 * 1024;

/**
 * Writes `data` as a new file `name` in `dir` and makes it durable, flushed in parts of
 * {@link SNAPSHOT_FLUSH_BYTES}: the file synced, then the directory.
 */
async function writeDurably(dir: string, name: string, data: Uint8Array): Promise<void> {
  const file = await open(join(dir, name), "wx");
  try {
    for (let offset = 0; offset < data.byteLength;) {
      const end = Math.min(offset + SNAPSHOT_FLUSH_BYTES, data.byteLength);
      while (offset < end) offset += (await file.write(data, offset, end - offset, offset)).bytesWritten;
      await file.datasync();
    }
    await file.sync();
  } finally {
    await file.close();
  }
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Deletes every file in `dir` but the one named `keep`. */
async function removeFilesBut(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) if (name !== keep) await rm(join(dir, name), { force: true });
}

/** The key range of the data chunks under `prefix` (which ends in a slash): up to the prefix without it, plus "0". */
function chunkRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)}0` };
}

/** The key ranges of every snapshot's data chunks but those under `prefix` (all of them for ""), of the third layout. */
function otherChunkRanges(prefix: string): { gte: string; lt: string }[] {
  const all = chunkRange("snap-data/");
  if (!prefix) return [all];
  // Prefixes have one length, so a prefix's keys sort together: others sort before or after them.
  return [{ gte: all.gte, lt: prefix }, { gte: chunkRange(prefix).lt, lt: all.lt }];
}

/** Every batch key sorts between these two. */
const BATCH_KEYS = { gte: "b/", lt: "b0" } as const;

function batchKey(firstIndex: number): string {
  return `b/${firstIndex.toString(16).padStart(16, "0")}`;
}

/** A batch record on disk: the indexes of its first entry and of its last one still in force. */
interface BatchRecord {
  first: number;
  last: number;
}

/**
 * Makes room in `records` for a record starting at `first`, which replaces every entry from
 * `first` on: returns the records it replaces whole (removed from `records`) and cuts the one
 * it overlaps.
 */
function replaceFrom(records: BatchRecord[], first: number): BatchRecord[] {
  const replaced: BatchRecord[] = [];
  while (records.length > 0 && records[records.length - 1]!.last >= first) {
    const last = records[records.length - 1]!;
    if (last.first < first) {
      last.last = first - 1;
      break;
    }
    replaced.push(records.pop()!);
  }
  return replaced;
}

type BatchOp = { type: "put"; key: string; value: Uint8Array } | { type: "del"; key: string };

/**
 * The writes that make `snapshot` current once its data is written as file `fileName` (see
 * `LevelStorage.writeSnapshot`); the names of the earlier layouts' data go with them.
 */
function snapshotOps(snapshot: Snapshot, fileName: string): BatchOp[] {
  return [
    { type: "put", key: SNAPSHOT_META_KEY, value: SnapshotMetadataCodec.encode(snapshot.metadata!) },
    { type: "put", key: SNAPSHOT_FILE_KEY, value: new TextEncoder().encode(fileName) },
    { type: "del", key: SNAPSHOT_CHUNKS_KEY },
    { type: "del", key: SINGLE_SNAPSHOT_DATA_KEY },
  ];
}

/** The write of hard state `hs`. */
function hardStateOp(hs: HardState): BatchOp {
  return { type: "put", key: HARD_STATE_KEY, value: HardStateCodec.encode(hs) };
}

/**
 * The data of the current snapshot, from file `name` in `snapshotDir`; when it cannot be read,
 * throws an Error that says the storage at `path` is damaged.
 */
async function readSnapshotFile(path: string, snapshotDir: string, name: string): Promise<Uint8Array> {
  try {
    return await readFile(join(snapshotDir, name));
  } catch (err) {
    throw new Error(`raft storage at ${path} is damaged: its snapshot's data file ${join(snapshotDir, name)} cannot be read (${(err as Error).message})`, { cause: err });
  }
}

/** How a storage is opened. */
export interface LevelStorageOptions {
  /** Longest wait before a commit index that only advanced is written (default {@link COMMIT_WRITE_DELAY_MS}). */
  commitWriteDelayMs?: number;
}

/** Raft storage persisted in LevelDB, read from memory. */
export class LevelStorage implements Storage {
  /** A local snapshot being written, if any. */
  private snapshotWrite: Promise<void> | undefined;
  /**
   * Writes of the hard state, one after another: a write that was overtaken could otherwise put
   * back an older term, vote or commit index (see `inTurn`).
   */
  private writes: Promise<void> = Promise.resolve();
  /** The hard state of a Ready that only advanced the commit index, not on disk yet. */
  private unwrittenCommit: HardState | undefined;
  private commitWriteTimer: NodeJS.Timeout | undefined;
  /** Why writing a commit index in the background failed; the next `save` throws it. */
  private commitWriteError: Error | undefined;

  private constructor(
    private readonly db: Level<string, Uint8Array>,
    private mem: MemoryStorage,
    /** The batch records on disk, in index order. */
    private records: BatchRecord[],
    /** Where the snapshot data files are. */
    private readonly snapshotDir: string,
    private readonly commitWriteDelayMs: number,
  ) {}

  /**
   * Opens (or creates) the storage in directory `path` and loads what it holds. When it cannot
   * be loaded (a damaged or unreadable store), the database is closed again and the error says why.
   */
  static async open(path: string, options: LevelStorageOptions = {}): Promise<LevelStorage> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.open();
    try {
      return await LevelStorage.load(db, path, options);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** Loads what the open database `db` at `path` holds, and removes snapshot data nothing names. */
  private static async load(db: Level<string, Uint8Array>, path: string, options: LevelStorageOptions): Promise<LevelStorage> {
    if ((await db.get(FIRST_LAYOUT_SNAPSHOT_KEY)) !== undefined) {
      throw new Error(`raft storage at ${path} was written by an earlier development version of shoal (a record per entry), ` +
        "which this version does not read: start this node from an empty data directory and join it again");
    }
    const mem = new MemoryStorage();
    const snapshotDir = join(path, SNAPSHOTS_DIR);
    await mkdir(snapshotDir, { recursive: true });
    const snapMeta = await db.get(SNAPSHOT_META_KEY);
    const named = async (key: string): Promise<string> => {
      const value = await db.get(key);
      return value ? new TextDecoder().decode(value) : "";
    };
    const fileName = await named(SNAPSHOT_FILE_KEY);
    const chunkPrefix = await named(SNAPSHOT_CHUNKS_KEY);
    if (snapMeta) {
      const data = fileName
        ? await readSnapshotFile(path, snapshotDir, fileName)
        : chunkPrefix
          ? Buffer.concat(await db.values(chunkRange(chunkPrefix)).all())
          : (await db.get(SINGLE_SNAPSHOT_DATA_KEY)) ?? new Uint8Array();
      mem.applySnapshot({ metadata: SnapshotMetadataCodec.decode(snapMeta), data });
    }
    // Data nothing names: a snapshot written until a crash, or a replaced one not yet deleted.
    await removeFilesBut(snapshotDir, fileName);
    for (const range of otherChunkRanges(chunkPrefix)) await db.clear(range);
    const hs = await db.get(HARD_STATE_KEY);
    if (hs) mem.setHardState(HardStateCodec.decode(hs));
    const records: BatchRecord[] = [];
    let entries: Entry[] = [];
    for await (const value of db.values(BATCH_KEYS)) {
      const batch = EntryBatchCodec.decode(value).entries;
      if (batch.length === 0) continue;
      const first = batch[0]!.index;
      // A later record replaces the entries of earlier ones from its first index on.
      replaceFrom(records, first);
      while (entries.length > 0 && entries[entries.length - 1]!.index >= first) entries.pop();
      for (const e of batch) entries.push(e);
      records.push({ first, last: batch[batch.length - 1]!.index });
    }
    // Entries the snapshot covers are kept on disk until compaction; the log starts after it.
    entries = entries.filter((e) => e.index >= mem.firstIndex());
    // Entries must be contiguous from the snapshot on; anything else means a damaged store.
    let expected = mem.firstIndex();
    for (const e of entries) {
      if (e.index !== expected) throw new Error(`raft storage at ${path} is damaged: expected entry ${expected}, found ${e.index}`);
      expected++;
    }
    mem.append(entries);
    return new LevelStorage(db, mem, records, snapshotDir, options.commitWriteDelayMs ?? COMMIT_WRITE_DELAY_MS);
  }

  /**
   * Stores `snapshot` and makes it current: its data as a new file, synced, then one synced
   * batch of {@link snapshotOps} and `alongside` (which names the file), then the deletion of
   * every other snapshot's data.
   */
  private async writeSnapshot(snapshot: Snapshot, alongside: BatchOp[] = []): Promise<void> {
    const fileName = newSnapshotFileName(snapshot.metadata!.index);
    await writeDurably(this.snapshotDir, fileName, snapshot.data);
    await this.db.batch([...snapshotOps(snapshot, fileName), ...alongside], { sync: true });
    await removeFilesBut(this.snapshotDir, fileName);
    for (const range of otherChunkRanges("")) await this.db.clear(range);
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
   * then updates the in-memory copy. Resolves once the data is on disk (synced).
   *
   * A Ready whose only change is the commit index (`mustSync` false, nothing else to write) is
   * not written at once: it resolves at once, and its hard state goes to disk with the next
   * write, or on its own (unsynced) after `commitWriteDelayMs` when no write comes, or when the
   * storage is closed. Under load that spares every round a second LevelDB write and the wait for
   * it, which held up the next round's entries on every manager. A commit index lost in a crash
   * is learnt again from the leader (etcd's MustSync rule: Raft's commit index is volatile
   * state); `--force-new-cluster` keeps the entries after it (see force-new-cluster.ts).
   */
  async save(rd: Pick<Ready, "snapshot" | "entries" | "hardState"> & { mustSync?: boolean }): Promise<void> {
    if (this.commitWriteError) throw this.commitWriteError;
    if (rd.mustSync === false && !rd.snapshot && rd.entries.length === 0) {
      if (rd.hardState) this.deferCommit(rd.hardState);
      return;
    }
    // A snapshot from the leader must land on disk after any local snapshot still being written,
    // or the older one could overwrite it.
    if (rd.snapshot && this.snapshotWrite) await this.snapshotWrite;
    const ops: BatchOp[] = [];
    if (rd.snapshot) {
      // Everything the snapshot replaces goes.
      for (const r of this.records) ops.push({ type: "del", key: batchKey(r.first) });
      this.records = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      // A new leader may have replaced our tail: records from `first` on go, an overlapping one is cut.
      for (const r of replaceFrom(this.records, first)) ops.push({ type: "del", key: batchKey(r.first) });
      ops.push({ type: "put", key: batchKey(first), value: EntryBatchCodec.encode({ entries: rd.entries }) });
      this.records.push({ first, last: rd.entries[rd.entries.length - 1]!.index });
    }
    // A deferred commit index goes with this write; a hard state of this Ready is newer still.
    const hardState = rd.hardState ?? this.unwrittenCommit;
    this.unwrittenCommit = undefined;
    if (hardState) ops.push(hardStateOp(hardState));
    if (rd.snapshot) await this.inTurn(() => this.writeSnapshot(rd.snapshot!, ops));
    else if (ops.length > 0) await this.inTurn(() => this.db.batch(ops, { sync: rd.mustSync ?? true }));
    if (rd.snapshot) this.mem.applySnapshot(rd.snapshot);
    this.mem.append(rd.entries);
    if (rd.hardState) this.mem.setHardState(rd.hardState);
  }

  /**
   * Runs `write` once the writes before it are done. Every write that may carry the hard state
   * goes through here, so that they land in the order they were made.
   */
  private inTurn(write: () => Promise<void>): Promise<void> {
    const done = this.writes.then(write);
    this.writes = done.catch(() => {});
    return done;
  }

  /**
   * Keeps `hs` (which advanced only the commit index) to be written with the next write, or on
   * its own after `commitWriteDelayMs`. Every entry it commits is on disk already: the Ready
   * loop persists each Ready before it takes the next.
   */
  private deferCommit(hs: HardState): void {
    this.mem.setHardState(hs);
    this.unwrittenCommit = hs;
    this.commitWriteTimer ??= setTimeout(() => {
      this.commitWriteTimer = undefined;
      void this.writeDeferredCommit();
    }, this.commitWriteDelayMs).unref();
  }

  /** Writes the deferred commit index, if it is still not on disk. */
  private writeDeferredCommit(): Promise<void> {
    return this.inTurn(async () => {
      const hs = this.unwrittenCommit;
      if (!hs) return;
      this.unwrittenCommit = undefined;
      await this.db.batch([hardStateOp(hs)]);
    }).catch((err: unknown) => {
      this.commitWriteError ??= err instanceof Error ? err : new Error(String(err));
    });
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
      await this.writeSnapshot(snapshot);
      // Records whose entries the snapshot covers are no longer needed once it is on disk
      // (a record that reaches past `compactTo` stays whole). Saves meanwhile touch only later
      // records: entries up to `compactTo` are committed and never replaced.
      const covered = this.records.findIndex((r) => r.last > compactTo);
      const drop = this.records.splice(0, covered === -1 ? this.records.length : covered);
      if (drop.length > 0) await this.db.clear({ gte: batchKey(drop[0]!.first), lte: batchKey(drop[drop.length - 1]!.first) });
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
    this.unwrittenCommit = undefined;
    this.records = [];
    await this.inTurn(async () => {
      await this.db.clear(BATCH_KEYS);
      await this.writeSnapshot(snapshot, [hardStateOp(hs)]);
    });
    const mem = new MemoryStorage();
    mem.applySnapshot(snapshot);
    mem.setHardState(hs);
    this.mem = mem;
  }

  /** Closes the database, once a deferred commit index is written and a snapshot being written is done. */
  async close(): Promise<void> {
    clearTimeout(this.commitWriteTimer);
    this.commitWriteTimer = undefined;
    await this.writeDeferredCommit();
    await this.snapshotWrite?.catch(() => {});
    await this.db.close();
  }
}
