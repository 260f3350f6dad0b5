import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../proto/gen/raft.ts";
import { EntryType } from "../../proto/gen/raft.ts";
import { Level } from "level";
import { LevelStorage } from "./level-storage.ts";
import { seededRandom } from "./random.ts";

const CONF = { voters: [1], learners: [] };

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.ENTRY_NORMAL, data: new TextEncoder().encode(`${term}:${index}`) };
}

/** What a reopened storage must hold: the log after the last snapshot, and the hard state. */
interface Expected {
  snapshotIndex: number;
  log: Map<number, Entry>;
  last: number;
  commit: number;
  term: number;
}

function assertHolds(storage: LevelStorage, want: Expected, when: string): void {
  assert.equal(storage.snapshot().metadata!.index, want.snapshotIndex, `${when}: snapshot index`);
  assert.equal(storage.lastIndex(), want.last, `${when}: last index`);
  const first = storage.firstIndex();
  assert.ok(first <= want.snapshotIndex + 1, `${when}: the log starts at ${first}, after the snapshot at ${want.snapshotIndex}`);
  if (want.last >= first) {
    const got = storage.entries(first, want.last + 1, Number.MAX_SAFE_INTEGER);
    for (const e of got) assert.deepEqual({ ...e, data: new Uint8Array(e.data) }, want.log.get(e.index), `${when}: entry ${e.index}`);
  }
  assert.deepEqual(storage.initialState().hardState, { term: want.term, vote: 1, commit: want.commit }, `${when}: hard state`);
}

test("the log survives reopening through appends, replaced tails, compactions and installed snapshots", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-level-storage-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const seed of [1, 2, 3]) {
    const path = join(dir, `s${seed}`);
    const random = seededRandom(seed);
    const pick = (n: number): number => Math.floor(random() * n);
    let storage = await LevelStorage.open(path);
    const want: Expected = { snapshotIndex: 0, log: new Map(), last: 0, commit: 0, term: 1 };
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
      } else if (roll < 0.8 && want.commit > want.snapshotIndex) {
        // A local snapshot of committed state, keeping a few entries before it.
        const index = want.snapshotIndex + 1 + pick(want.commit - want.snapshotIndex);
        const term = want.log.get(index)!.term;
        await storage.snapshotAndCompact({ data: new Uint8Array([index & 255]), metadata: { index, term, confState: CONF } }, Math.max(0, index - pick(10)));
        want.snapshotIndex = index;
      } else if (roll < 0.85) {
        // A snapshot from the leader, past everything this node has.
        const index = want.last + 1 + pick(30);
        want.term++;
        want.log.clear();
        want.snapshotIndex = index;
        want.last = index;
        want.commit = index;
        await storage.save({ snapshot: { data: new Uint8Array([1]), metadata: { index, term: want.term, confState: CONF } }, entries: [], hardState: { term: want.term, vote: 1, commit: index } });
      } else {
        await storage.close();
        storage = await LevelStorage.open(path);
        assertHolds(storage, want, `seed ${seed} step ${step}, reopened`);
        continue;
      }
      assertHolds(storage, want, `seed ${seed} step ${step}`);
    }
    await storage.close();
    storage = await LevelStorage.open(path);
    assertHolds(storage, want, `seed ${seed}, reopened at the end`);
    await storage.close();
  }
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
