/** Waits for the exit file conmon writes when a container's process ends. */
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ContainerPaths } from "./paths.ts";
import type { Runc } from "./runc.ts";

/**
 * A slow poll behind the file watch: catches a missed event, and a container that stopped without
 * conmon recording it (conmon killed), which is checked against runc's state.
 */
const EXIT_POLL_MS = 1000;

/** The exit code in the exit file, or undefined while there is none. */
export async function readExit(paths: ContainerPaths): Promise<number | undefined> {
  const text = await readFile(paths.exitFile, "utf8").catch(() => undefined);
  if (text === undefined || text.trim() === "") return undefined;
  return Number(text.trim());
}

/**
 * Resolves with the exit code once the container has stopped, rejects when `signal` aborts or
 * when the container is gone without an exit code (after `timeoutMs`, resolves undefined).
 */
export function waitExit(paths: ContainerPaths, runc: Runc, signal?: AbortSignal, timeoutMs?: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let missing = 0;
    const watcher = watch(paths.exitDir, () => void check());
    const poll = setInterval(() => void check(true), EXIT_POLL_MS);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(() => resolve(undefined)), timeoutMs);
    const onAbort = (): void => done(() => reject(signal!.reason ?? new Error("aborted")));
    signal?.addEventListener("abort", onAbort, { once: true });
    function done(settle: () => void): void {
      if (settled) return;
      settled = true;
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      settle();
    }
    async function check(withState = false): Promise<void> {
      const code = await readExit(paths);
      if (code !== undefined) return done(() => resolve(code));
      if (!withState) return;
      const st = await runc.state(paths.id).catch(() => undefined);
      if (st && st.status !== "stopped") return void (missing = 0);
      // Stopped (or gone) with no exit file: give conmon one more poll to write it.
      if (++missing >= 2) done(() => reject(new ExecError(ExecErrorCode.Runtime, `container ${paths.id} stopped but its monitor recorded no exit code`)));
    }
    if (signal?.aborted) onAbort();
    else void check();
  });
}
