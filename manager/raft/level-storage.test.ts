import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, HardState } from "../../proto/gen/raft.ts";
import { EntryType } from "../../proto/gen/raft.ts";
import { Level } from "level";
import { LevelStorage, SNAPSHOT_FLUSH_BYTES } from "./level-storage.ts";
import { seededRandom } from "./random.ts";

const CONF = { voters: [1], learners: [] };

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.ENTRY_NORMAL, data: new TextEncoder().encode(`${term}:${index}`) };
}

/** What a reopened storage must hold: the snapshot, the log after it, and the hard state. */
interface Expected {
  snapshotIndex: number;
  snapshotData: Uint8Array;
  log: Map<number, Entry>;
  last: number;
  commit: number;
  term: number;
}

function assertHolds(storage: LevelStorage, want: Expected, when: string): void {
  assert.equal(storage.snapshot().metadata!.index, want.snapshotIndex, `${when}: snapshot index`);
  assert.deepEqual([...storage.snapshot().data], [...want.snapshotData], `${when}: snapshot data`);
  assert.equal(storage.lastIndex(), want.last, `${when}: last index`);
  const first = storage.firstIndex();
  assert.ok(first <= want.snapshotIndex + 1, `${when}: the log starts at ${first}, after the snapshot at ${want.snapshotIndex}`);
  if (want.last >= first) {
    const got = storage.entries(first, want.last + 1, Number.MAX_SAFE_INTEGER);
    for (const e of got) assert.deepEqual({ ...e, data: new Uint8Array(e.data) }, want.log.get(e.index), `${when}: entry ${e.index}`);
  }
  assert.deepEqual(storage.initialState().hardState, { term: want.term, vote: 1, commit: want.commit }, `${when}: hard state`);
}

/** Data of 0 to 40 bytes, made from `random`. */
function someData(random: () => number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(random() * 41) }, () => Math.floor(random() * 256));
}

test("the log and the snapshot survive reopening through appends, replaced tails, compactions and installed snapshots", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const seed of [1, 2, 3]) {
    const path = join(dir, `s${seed}`);
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    let storage = await LevelStorage.open(path);
    const want: Expected = { snapshotIndex: 0, snapshotData: new Uint8Array(), log: new Map(), last: 0, commit: 0, term: 1 };
    for (let step = 0; step < 300; step++) {
      const roll = random();
      if (roll < 0.6) {
        // Append, or (a new leader) replace the uncommitted tail from some index on.
        const from = random() < 0.25 && want.last > want.commit ? want.commit + 1 + pick(want.last - want.commit) : want.last + 1;
        if (from <= want.last) want.term++;
        const entries = Array.from({ length: 1 + pick(20) }, (_, i) => entry(from + i, want.term));
        for (let i = from; i <= want.last; i++) want.log.delete(i);
        for (const e of entries) want.log.set(e.index, e);
        want.last = entries[entries.length - 1]!.index;
        want.commit = Math.min(want.last, want.commit + pick(25));
        await storage.save({ entries, hardState: { term: want.term, vote: 1, commit: want.commit } });
        if (random() < 0.3 && want.commit < want.last) {
          // A Ready that only advances the commit index: written later, or when the storage closes.
          want.commit += 1 + pick(want.last - want.commit);
          await storage.save({ entries: [], hardState: { term: want.term, vote: 1, commit: want.commit }, mustSync: false });
        }
      } else if (roll < 0.8 && want.commit > want.snapshotIndex) {
        // A local snapshot of committed state, keeping a few entries before it.
        const index = want.snapshotIndex + 1 + pick(want.commit - want.snapshotIndex);
        const term = want.log.get(index)!.term;
        const data = someData(random);
        await storage.snapshotAndCompact({ data, metadata: { index, term, confState: CONF } }, Math.max(0, index - pick(10)));
        want.snapshotIndex = index;
        want.snapshotData = data;
      } else if (roll < 0.85) {
        // A snapshot from the leader, past everything this node has.
        const index = want.last + 1 + pick(30);
        want.term++;
        want.log.clear();
        want.snapshotIndex = index;
        want.last = index;
        want.commit = index;
        want.snapshotData = someData(random);
        await storage.save({ snapshot: { data: want.snapshotData, metadata: { index, term: want.term, confState: CONF } }, entries: [], hardState: { term: want.term, vote: 1, commit: index } });
      } else {
        await storage.close();
        storage = await LevelStorage.open(path);
        assertHolds(storage, want, `seed ${seed} step ${step}, reopened`);
        continue;
      }
      assertHolds(storage, want, `seed ${seed} step ${step}`);
    }
    await storage.close();
    // Only the current snapshot's file is left (replaced ones are deleted as they go, not only when opening).
    const files = readdirSync(join(path, "snapshots"));
    assert.equal(files.length, 1, `seed ${seed}: snapshot files left on disk: ${files.join(", ")}`);
    assert.deepEqual([...readFileSync(join(path, "snapshots", files[0]!))], [...want.snapshotData], `seed ${seed}: the file holds the current snapshot`);
    storage = await LevelStorage.open(path);
    assertHolds(storage, want, `seed ${seed}, reopened at the end`);
    await storage.close();
  }
});

test("snapshot files that nothing names (a crash while a snapshot was written) are ignored and deleted; a missing one is reported", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await LevelStorage.open(dir);
  await storage.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 1, commit: 3 } });
  await storage.snapshotAndCompact({ data: new TextEncoder().encode("the state at index 2"), metadata: { index: 2, term: 1, confState: CONF } }, 1);
  await storage.close();
  const [current] = readdirSync(join(dir, "snapshots"));

  // A crash after a later snapshot's file was written, before the batch that names it.
  writeFileSync(join(dir, "snapshots", "0000000000000003-0badf00d.snap"), "the state at index 3");
  const reopened = await LevelStorage.open(dir);
  assert.equal(reopened.snapshot().metadata!.index, 2);
  assert.equal(new TextDecoder().decode(reopened.snapshot().data), "the state at index 2");
  await reopened.close();
  assert.deepEqual(readdirSync(join(dir, "snapshots")), [current], "the orphan file is gone");

  // The file named is gone (removed by hand, a damaged disk): opening says so, and changes nothing.
  rmSync(join(dir, "snapshots", current!));
  for (let i = 0; i < 2; i++) {
    await assert.rejects(LevelStorage.open(dir), (err: Error) => {
      assert.match(err.message, /raft storage at .* is damaged: its snapshot's data file .*\.snap cannot be read \(ENOENT/);
      return true;
    });
  }
});

test("a snapshot's data goes to disk a megabyte at a time, each part flushed before the next is written", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await LevelStorage.open(dir);
  await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
  // The size of the file at each flush of its data (LevelDB's own syncs do not go through Node's file handles).
  const handle = await open(join(dir, "probe"), "w");
  const fileHandle = Object.getPrototypeOf(handle) as FileHandle;
  await handle.close();
  const datasync = fileHandle.datasync;
  const flushedAt: number[] = [];
  fileHandle.datasync = async function (this: FileHandle) {
    flushedAt.push((await this.stat()).size);
    return datasync.call(this);
  };
  const data = randomBytes(3 * SNAPSHOT_FLUSH_BYTES + 1234);
  try {
    await storage.snapshotAndCompact({ data, metadata: { index: 2, term: 1, confState: CONF } }, 1);
  } finally {
    fileHandle.datasync = datasync;
  }
  await storage.close();
  assert.deepEqual(flushedAt, [1, 2, 3].map((n) => n * SNAPSHOT_FLUSH_BYTES).concat(data.byteLength));
  const reopened = await LevelStorage.open(dir);
  assert.deepEqual(Buffer.from(reopened.snapshot().data), data, "the parts make the whole snapshot");
  await reopened.close();
});

test("a log with a gap is refused as damaged, and the refusal leaves the database closed", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await LevelStorage.open(dir);
  for (const first of [1, 3, 5]) await storage.save({ entries: [entry(first, 1), entry(first + 1, 1)], hardState: { term: 1, vote: 1, commit: first + 1 } });
  await storage.close();
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.del("b/0000000000000003");
  await db.close();
  // Twice: a refusal that left LevelDB open would make the second attempt fail on its lock instead.
  for (let i = 0; i < 2; i++) await assert.rejects(LevelStorage.open(dir), /raft storage at .* is damaged: expected entry 3, found 5/);
});

test("a data directory of an earlier layout (snapshot data in LevelDB, in chunks or as one value) is read, and its data moves to a file with the next snapshot", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await LevelStorage.open(dir);
  await storage.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)], hardState: { term: 1, vote: 1, commit: 4 } });
  await storage.snapshotAndCompact({ data: new TextEncoder().encode("unused"), metadata: { index: 2, term: 1, confState: CONF } }, 1);
  await storage.close();
  rmSync(join(dir, "snapshots"), { recursive: true });

  // The third layout: the data in chunks under a prefix that "snap-chunks" names; an orphan prefix beside it.
  const prefix = "snap-data/0000000000000002-00c0ffee/";
  let db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.del("snap-file");
  await db.put("snap-chunks", new TextEncoder().encode(prefix));
  for (const [n, text] of ["the st", "ate at", " index 2"].entries()) await db.put(`${prefix}${String(n).padStart(8, "0")}`, new TextEncoder().encode(text));
  await db.put("snap-data/0000000000000003-0badf00d/00000000", new Uint8Array([9, 9, 9]));
  await db.close();
  let reopened = await LevelStorage.open(dir);
  assert.equal(new TextDecoder().decode(reopened.snapshot().data), "the state at index 2");
  // The next snapshot is a file, and the chunks go.
  await reopened.snapshotAndCompact({ data: new TextEncoder().encode("the state at index 3"), metadata: { index: 3, term: 1, confState: CONF } }, 2);
  await reopened.close();
  db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  assert.deepEqual(await db.keys({ gte: "snap-data/", lt: "snap-data0" }).all(), [], "no chunks left");
  assert.equal(await db.get("snap-chunks"), undefined);
  await db.close();
  reopened = await LevelStorage.open(dir);
  assert.equal(new TextDecoder().decode(reopened.snapshot().data), "the state at index 3");
  await reopened.close();

  // The second layout kept a snapshot's data as one value, under "snap-data", named by no prefix.
  db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.del("snap-file");
  await db.put("snap-data", new TextEncoder().encode("one value"));
  await db.close();
  reopened = await LevelStorage.open(dir);
  assert.equal(new TextDecoder().decode(reopened.snapshot().data), "one value");
  assert.deepEqual(readdirSync(join(dir, "snapshots")), [], "the file no key names is deleted");
  await reopened.close();
});

test("a data directory in the first layout (a record per entry) is refused, saying what to do", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: "utf8", valueEncoding: "view" });
  await db.put("snap", new Uint8Array([1]));
  await db.put("e/0000000000000002", new Uint8Array([2]));
  await db.close();
  await assert.rejects(LevelStorage.open(dir), /written by an earlier development version of shoal .* start this node from an empty data directory and join it again/);
  // Refused without changing anything: the directory can be opened again (and refused again).
  await assert.rejects(LevelStorage.open(dir), /earlier development version/);
});

/**
 * The hard state a manager killed now would restart with: the data directory copied as it is
 * (LevelDB's files as written so far, as after a process crash) and opened.
 */
async function hardStateAfterCrash(dir: string, image: string): Promise<HardState> {
  cpSync(dir, image, { recursive: true });
  const copy = await LevelStorage.open(image);
  try {
    return copy.initialState().hardState;
  } finally {
    await copy.close();
  }
}

test("a Ready that only advances the commit index does not wait for the disk: its commit goes with the next write, or on its own soon after", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "raft");
  const delay = 40;
  const storage = await LevelStorage.open(dir, { commitWriteDelayMs: delay });
  let images = 0;
  const afterCrash = (): Promise<HardState> => hardStateAfterCrash(dir, join(root, `image${++images}`));

  await storage.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 3 }, mustSync: false });
  assert.equal(storage.initialState().hardState.commit, 3, "the in-memory copy has it at once");
  assert.equal((await afterCrash()).commit, 1, "not on disk yet: the save did not wait for a write");
  await new Promise((r) => setTimeout(r, delay * 3));
  assert.deepEqual(await afterCrash(), { term: 1, vote: 1, commit: 3 }, "written on its own when no other write came");

  // Under load the next write takes it along.
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 3 }, mustSync: false });
  await storage.save({ entries: [entry(4, 1), entry(5, 1)], hardState: undefined });
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 5 }, mustSync: false });
  await storage.save({ entries: [entry(6, 1)], hardState: undefined });
  assert.deepEqual(await afterCrash(), { term: 1, vote: 1, commit: 5 }, "written with the entries that came next");

  // A deferred commit that a newer hard state supersedes is not written after it: the older term and vote never come back.
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 6 }, mustSync: false });
  await storage.save({ entries: [], hardState: { term: 2, vote: 2, commit: 6 }, mustSync: true });
  await new Promise((r) => setTimeout(r, delay * 3));
  assert.deepEqual(await afterCrash(), { term: 2, vote: 2, commit: 6 });

  // Closing writes a deferred commit.
  await storage.save({ entries: [], hardState: { term: 2, vote: 2, commit: 6 }, mustSync: false });
  await storage.save({ entries: [entry(7, 2)], hardState: { term: 2, vote: 2, commit: 6 } });
  await storage.save({ entries: [], hardState: { term: 2, vote: 2, commit: 7 }, mustSync: false });
  await storage.close();
  const reopened = await LevelStorage.open(dir);
  assert.deepEqual(reopened.initialState().hardState, { term: 2, vote: 2, commit: 7 });
  await reopened.close();
});

test("a deferred commit index that cannot be written fails the next save, saying why", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const storage = await LevelStorage.open(dir, { commitWriteDelayMs: 5 });
  await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
  // The database goes away underneath (as a failing disk would take it).
  const db = (storage as unknown as { db: Level<string, Uint8Array> }).db;
  await db.close();
  await storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, mustSync: false });
  await new Promise((r) => setTimeout(r, 50));
  // The next save writes nothing itself, yet fails: the node stops instead of going on unaware.
  await assert.rejects(storage.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, mustSync: false }), /not open/i);
});
