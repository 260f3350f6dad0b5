/**
 * The memory allocator shoald runs with: jemalloc when the machine has it, else the C library's.
 *
 * Node keeps every HTTP/2 header value a manager receives in a block of its own, freed only when
 * V8's full collection finalizes the string that points to it, so a leader serving thousands of
 * calls a second frees hundreds of thousands of small blocks inside one pause. Under glibc's
 * malloc that freeing (and the consolidation of free lists it sets off) was much of the leader's
 * 60–270 ms full-collection pauses; under jemalloc its longest were 12–35 ms at 64 writers (one of
 * 104 ms at 256) in `BENCH_GC_TRACE=1 BENCH_LEVELS=64,256 npm run bench:raft` (test/bench/HISTORY.md). The
 * allocator is chosen by LD_PRELOAD when a process starts, so whatever starts shoald sets it: the
 * local lab through {@link allocatorEnv}, a person as the README says; shoald itself says at start
 * when it runs without jemalloc.
 */
import { existsSync, readFileSync } from "node:fs";

/** Where Debian, Ubuntu and Fedora install jemalloc (packages libjemalloc2 and jemalloc). */
export const JEMALLOC_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
  "/usr/lib64/libjemalloc.so.2",
  "/usr/lib/libjemalloc.so.2",
] as const;

/** The installed jemalloc, or undefined when there is none. */
export function findJemalloc(exists: (path: string) => boolean = existsSync): string | undefined {
  return JEMALLOC_PATHS.find((path) => exists(path));
}

/**
 * The environment variables to add to `env` so that a process started with them runs with
 * jemalloc: LD_PRELOAD with jemalloc first (before anything `env` preloads already). Empty when
 * `env` preloads jemalloc already or none is installed.
 */
export function allocatorEnv(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): Record<string, string> {
  const preloaded = (env.LD_PRELOAD ?? "").split(/[:\s]+/).filter((p) => p !== "");
  if (preloaded.some((p) => p.includes("libjemalloc"))) return {};
  const jemalloc = findJemalloc(exists);
  return jemalloc ? { LD_PRELOAD: [jemalloc, ...preloaded].join(":") } : {};
}

/** How shoald's advice (see {@link allocatorAdvice}) begins: what a log can be searched for. */
export const WITHOUT_JEMALLOC = "running with the C library's malloc";

/** Whether the process whose /proc/<pid>/maps this is has jemalloc loaded. */
export function mapsJemalloc(maps: string): boolean {
  return /\/libjemalloc[^/\s]*\.so/.test(maps);
}

/**
 * What shoald says at start about its allocator, given its /proc/self/maps (null where there is
 * none, off Linux): nothing when it runs with jemalloc or cannot tell, else how to start it with
 * jemalloc.
 */
export function allocatorAdvice(maps: string | null = readSelfMaps(), exists: (path: string) => boolean = existsSync): string | undefined {
  if (maps === null || mapsJemalloc(maps)) return undefined;
  const jemalloc = findJemalloc(exists);
  const how = jemalloc
    ? `start shoald with LD_PRELOAD=${jemalloc}`
    : "install jemalloc (Debian and Ubuntu: apt-get install libjemalloc2) and start shoald with LD_PRELOAD set to it";
  return `${WITHOUT_JEMALLOC}, under which a busy leader's garbage-collection pauses are much longer: ${how}`;
}

/** This process's /proc/self/maps, or null where there is none. */
function readSelfMaps(): string | null {
  try {
    return readFileSync("/proc/self/maps", "utf8");
  } catch {
    return null;
  }
}
