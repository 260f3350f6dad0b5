import { test } from "node:test";
import assert from "node:assert/strict";
import { allocatorAdvice, allocatorEnv, findJemalloc, JEMALLOC_PATHS, mapsJemalloc, WITHOUT_JEMALLOC } from "./allocator.ts";

const DEBIAN = JEMALLOC_PATHS[0];
const installed = (path: string) => path === DEBIAN;
const absent = () => false;

test("allocatorEnv preloads jemalloc first when it is installed, and adds nothing when it is not or is preloaded already", () => {
  assert.deepEqual(allocatorEnv({}, installed), { LD_PRELOAD: DEBIAN });
  assert.deepEqual(allocatorEnv({ LD_PRELOAD: "/opt/a.so /opt/b.so" }, installed), { LD_PRELOAD: `${DEBIAN}:/opt/a.so:/opt/b.so` });
  assert.deepEqual(allocatorEnv({}, absent), {});
  assert.deepEqual(allocatorEnv({ LD_PRELOAD: "/usr/local/lib/libjemalloc.so" }, installed), {});
  assert.equal(findJemalloc((p) => p === JEMALLOC_PATHS[2]), JEMALLOC_PATHS[2]);
});

test("mapsJemalloc tells from /proc/<pid>/maps whether jemalloc is loaded", () => {
  const libc = "7f00-7f01 r-xp 00000000 fd:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6\n";
  assert.equal(mapsJemalloc(libc), false);
  assert.equal(mapsJemalloc(`${libc}7f02-7f03 r-xp 00000000 fd:01 456 ${DEBIAN}\n`), true);
  assert.equal(mapsJemalloc(`${libc}7f02-7f03 rw-p 00000000 00:00 0 [heap]\n`), false);
});

test("shoald's advice about its allocator: none with jemalloc or without /proc, else how to get it", () => {
  assert.equal(allocatorAdvice(`x ${DEBIAN}\n`, installed), undefined);
  assert.equal(allocatorAdvice(null, installed), undefined);
  assert.match(allocatorAdvice("x /usr/lib/x86_64-linux-gnu/libc.so.6\n", installed)!, new RegExp(`start shoald with LD_PRELOAD=${DEBIAN}`));
  assert.match(allocatorAdvice("x /usr/lib/x86_64-linux-gnu/libc.so.6\n", absent)!, /apt-get install libjemalloc2/);
  assert.ok(allocatorAdvice("x /usr/lib/x86_64-linux-gnu/libc.so.6\n", absent)!.startsWith(WITHOUT_JEMALLOC), "the advice begins as logs are searched for it");
});
