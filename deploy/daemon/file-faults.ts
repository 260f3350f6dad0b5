/**
 * A fault hook for process tests: when `SHOAL_FAULTS_FILE` names a file, traffic to and from
 * the addresses listed in it (a JSON array of HOST:PORT) is dropped, both ways. The file is
 * re-read every FAULT_POLL_MS. Without the variable there is no hook at all.
 */
import { readFileSync } from "node:fs";
import type { FaultHook } from "../../manager/raft/transport.ts";

/** How often the fault file is read: fast enough for tests that cut and heal within seconds. */
const FAULT_POLL_MS = 100;

/** Cuts traffic to the addresses listed in a file. */
export class FileFaultHook implements FaultHook {
  private blocked = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  /** Watches `path`. */
  constructor(private readonly path: string) {
    this.read();
    this.timer = setInterval(() => this.read(), FAULT_POLL_MS);
    this.timer.unref();
  }

  private read(): void {
    try {
      const list = JSON.parse(readFileSync(this.path, "utf8")) as unknown;
      this.blocked = new Set(Array.isArray(list) ? list.map(String) : []);
    } catch {
      this.blocked = new Set();
    }
  }

  /** {@inheritDoc FaultHook.blocks} */
  blocks(addr: string): boolean {
    return this.blocked.has(addr);
  }

  /** Stops watching. */
  close(): void {
    clearInterval(this.timer);
  }
}

/** The hook named by the environment, if any. */
export function faultHookFromEnv(env: NodeJS.ProcessEnv): FileFaultHook | undefined {
  const path = env.SHOAL_FAULTS_FILE;
  return path ? new FileFaultHook(path) : undefined;
}
