/** Runs a short command with a timeout and collects its output: health probes of both engines. */
import { spawn } from "node:child_process";
import type { SpawnOptions } from "node:child_process";
import type { ProbeResult } from "./health.ts";

/** Probe output kept in memory while a probe runs. */
const MAX_PROBE_OUTPUT = 64 * 1024;

/** Runs `file args`, killing it after `timeoutMs`; exit code -1 when it could not run or timed out. */
export function runProbe(file: string, args: string[], options: SpawnOptions, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    const collect = (d: Buffer): void => {
      if (output.length < MAX_PROBE_OUTPUT) output += d.toString();
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ exitCode: -1, output: err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve(timedOut ? { exitCode: -1, output: `${output}\nhealth check timed out after ${timeoutMs} ms` } : { exitCode: code ?? -1, output });
    });
  });
}
