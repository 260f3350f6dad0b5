/** Reference systems a benchmark runs beside shoal's when they are on the machine. */
import { spawnSync } from "node:child_process";

/**
 * Why `program` cannot be run here (`install` says how to get it), or undefined when
 * `program --version` succeeds.
 */
export function programMissing(program: string, install: string): string | undefined {
  const r = spawnSync(program, ["--version"], { encoding: "utf8" });
  if (r.error) return `${program} is not on the PATH (${(r.error as NodeJS.ErrnoException).code}); ${install}`;
  if (r.status !== 0) return `${program} --version failed: ${r.stderr.trim()}`;
  return undefined;
}
