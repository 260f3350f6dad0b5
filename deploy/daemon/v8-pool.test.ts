import assert from "node:assert/strict";
import { test } from "node:test";
import { NODE_DEFAULT_V8_POOL_SIZE, startedPoolSize, v8PoolAdvice, v8PoolFlag, v8PoolSize } from "./v8-pool.ts";

test("V8 gets one helper thread fewer than the cores, at least one and at most Node's four", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 8, 64].map((cores) => v8PoolSize(cores)), [1, 1, 2, 3, 4, 4, 4]);
  assert.equal(v8PoolFlag(2), "--v8-pool-size=1");
  assert.equal(NODE_DEFAULT_V8_POOL_SIZE, 4);
});

test("the pool a process started with comes from its flags, else NODE_OPTIONS, else none", () => {
  assert.equal(startedPoolSize([], ""), undefined);
  assert.equal(startedPoolSize(["--v8-pool-size=2", "--import", "tsx"], ""), 2);
  assert.equal(startedPoolSize([], "--max-old-space-size=4096 --v8-pool-size=3"), 3);
  assert.equal(startedPoolSize(["--v8-pool-size=1"], "--v8-pool-size=3"), 1, "the command line wins over NODE_OPTIONS");
  assert.equal(startedPoolSize(["--v8-pool-size=1", "--v8-pool-size=2"], ""), 2, "the last flag wins, as in Node");
});

test("shoald advises a smaller pool only when its own is larger than the machine wants", () => {
  assert.equal(v8PoolAdvice(1, 2), undefined);
  assert.equal(v8PoolAdvice(undefined, 8), undefined, "Node's four on eight cores");
  assert.equal(v8PoolAdvice(2, 4), undefined);
  assert.equal(v8PoolAdvice(undefined, 2), "V8 has 4 helper threads on a machine with 2 cores, where they take the cores from the threads writes wait on: start shoald with node --v8-pool-size=1");
  assert.match(v8PoolAdvice(0, 4)!, /V8 has 4 helper threads on a machine with 4 cores.*--v8-pool-size=3$/, "0 lets Node take as many as the cores");
});
