/**
 * For tests of how long memory lives: how much the old generation grows while a registry of
 * short-lived items (calls, proposals) keeps taking new ones and dropping old ones, with young
 * collections between. Items that die young cost nothing there; items something keeps alive
 * through the young collections are moved into it.
 */
import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";

/** A registry under test: where items are put and taken back by key. */
export interface Registry {
  put(key: number, item: object): void;
  remove(key: number): void;
}

/** `gc()`, which Node exposes only under a flag: set at run time, then taken from a new context. */
function collector(): (options?: { type: "minor" | "major" }) => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;
}

function oldSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!.space_used_size;
}

/**
 * Bytes by which the old generation grew while 8,000 items of about 1 KB each went through
 * `registry`, 64 held at a time, with a young collection after every 200 (and no full one).
 */
export function oldGenerationGrowth(registry: Registry): number {
  const gc = collector();
  gc({ type: "major" });
  gc({ type: "major" });
  const before = oldSpaceUsed();
  const held: number[] = [];
  let key = 1;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 200; i++) {
      registry.put(key, { payload: new Array<number>(100).fill(round) });
      held.push(key++);
      if (held.length > 64) registry.remove(held.shift()!);
    }
    gc({ type: "minor" });
  }
  return oldSpaceUsed() - before;
}

/**
 * Asserts that items going through `registry` die young (the old generation grows by under
 * 1 MB of the 8 MB), and, as a control that the measure can see the trap, that the same churn
 * through a Map keeps more than 4 MB of them.
 */
export function assertItemsDieYoung(what: string, registry: Registry): void {
  const mine = oldGenerationGrowth(registry);
  // A full collection that happens to come during the churn frees what the Map kept: a few tries.
  let control = 0;
  for (let attempt = 0; attempt < 3 && control <= 4 * 1024 * 1024; attempt++) {
    const map = new Map<number, object>();
    control = Math.max(control, oldGenerationGrowth({ put: (k, item) => map.set(k, item), remove: (k) => void map.delete(k) }));
  }
  assert.ok(control > 4 * 1024 * 1024, `a Map kept only ${Math.round(control / 1024)} KB of the 8 MB that went through it: the measure cannot see the trap`);
  assert.ok(mine < 1024 * 1024, `${what} kept ${Math.round(mine / 1024)} KB of the 8 MB that went through it`);
}
