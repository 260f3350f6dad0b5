/**
 * How many helper threads V8 gets in shoald: one fewer than the machine's cores, from 1 to 4.
 *
 * V8 runs its collector's parallel and concurrent work (and its optimizing compiler) on a pool of
 * threads that Node makes 4 threads large whatever the machine. On a machine with fewer cores
 * than that plus the main thread, a young-generation collection in one process wakes its four
 * helpers at once, and they take the cores from the main threads that writes wait on: the leader's,
 * the followers', the clients'. With a pool of one thread on this project's two-core machine, the
 * p99 of `npm run bench:raft`'s 64 writers (shoal alone, taken in turns with Node's default) was
 * lower in 9 rounds of 10 and within 22.9–23.5 ms in six of them, against 22.9–27.9 ms; the
 * longest stall of a level was 25–69 ms against 31–116 (test/bench/HISTORY.md). The pool's size is
 * fixed when the process starts, so whatever starts shoald sets it: the local lab through
 * {@link v8PoolFlag}, a person as the README says; shoald itself says at start when it runs with
 * a larger one.
 */
import { availableParallelism } from "node:os";

/** Node's own size of the pool, and the largest this sets. */
export const NODE_DEFAULT_V8_POOL_SIZE = 4;

/** The pool size for a machine with `cores` cores: one fewer, from 1 to {@link NODE_DEFAULT_V8_POOL_SIZE}. */
export function v8PoolSize(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(NODE_DEFAULT_V8_POOL_SIZE, cores - 1));
}

/** The Node.js flag that starts a process with {@link v8PoolSize}'s pool. */
export function v8PoolFlag(cores?: number): string {
  return `--v8-pool-size=${v8PoolSize(cores)}`;
}

/**
 * The pool size a process was started with, from its Node.js flags (`process.execArgv`) and its
 * NODE_OPTIONS, where the flags win; undefined when neither sets it (Node's default).
 */
export function startedPoolSize(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env.NODE_OPTIONS ?? ""): number | undefined {
  const sizes = [...nodeOptions.split(/\s+/), ...execArgv]
    .map((arg) => /^--v8-pool-size=(\d+)$/.exec(arg)?.[1])
    .filter((size) => size !== undefined);
  return sizes.length > 0 ? Number(sizes.at(-1)) : undefined;
}

/**
 * What shoald says at start about V8's pool: nothing when it is no larger than
 * {@link v8PoolSize} for this machine, else how to start shoald with that size.
 */
export function v8PoolAdvice(started: number | undefined = startedPoolSize(), cores: number = availableParallelism()): string | undefined {
  // 0 lets Node choose, as many as the cores.
  const size = started === 0 ? cores : (started ?? NODE_DEFAULT_V8_POOL_SIZE);
  const wanted = v8PoolSize(cores);
  if (size <= wanted) return undefined;
  return `V8 has ${size} helper threads on a machine with ${cores} cores, where they take the cores from the threads writes wait on: start shoald with node ${v8PoolFlag(cores)}`;
}
