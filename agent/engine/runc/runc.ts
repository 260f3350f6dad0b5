/** The runc command line: state, start, kill, exec, delete, with failures as ExecErrors. */
import { execFile, spawn } from "node:child_process";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ProbeResult } from "../health.ts";

/** What `runc state` reports. */
export interface RuncState {
  id: string;
  pid: number;
  status: "creating" | "created" | "running" | "paused" | "stopped";
  bundle: string;
}

/** Probe output kept in memory while a probe runs. */
const MAX_EXEC_OUTPUT = 64 * 1024;

/** The message inside runc's logrus line (`time=... level=error msg="..."`), or the text itself. */
export function runcMessage(text: string): string {
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(text);
  return (m ? m[1]!.replace(/\\(.)/g, "$1") : text).trim();
}

/** Runs runc with a state root of its own, so shoal's containers are apart from anyone else's. */
export class Runc {
  /**
   * @param binary path of runc
   * @param root runc's state directory (`--root`), on tmpfs (/run) as runc expects
   */
  constructor(
    readonly binary: string,
    readonly root: string,
  ) {}

  /** The container's state, or undefined when runc does not know it. */
  async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.run(["state", id])) as RuncState;
    } catch (err) {
      if (/does not exist/.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /** Starts a created container's process. */
  async start(id: string): Promise<void> {
    await this.run(["start", id]);
  }

  /** Sends a signal to the container's first process; a stopped container is not an error. */
  async kill(id: string, signal: string): Promise<void> {
    try {
      await this.run(["kill", id, signal]);
    } catch (err) {
      if (!/not running|does not exist|process already finished/.test((err as Error).message)) throw err;
    }
  }

  /** Deletes the container (forcibly); one that no longer exists is not an error. */
  async delete(id: string): Promise<void> {
    try {
      await this.run(["delete", "--force", id]);
    } catch (err) {
      if (!/does not exist/.test((err as Error).message)) throw err;
    }
  }

  /** Runs argv inside the container, killing it after `timeoutMs`; exit code -1 when it could not run or timed out. */
  exec(id: string, argv: string[], timeoutMs: number): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const child = spawn(this.binary, ["--root", this.root, "exec", id, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      const collect = (d: Buffer): void => {
        if (output.length < MAX_EXEC_OUTPUT) output += d.toString();
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        output += `\nhealth check timed out after ${timeoutMs} ms`;
      }, timeoutMs);
      child.on("error", (err) => {
        clearTimeout(timer);
        resolve({ exitCode: -1, output: err.message });
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code ?? -1, output: runcMessage(output) === output.trim() ? output : runcMessage(output) });
      });
    });
  }

  /** Runs one runc command; rejects with a `runtime` ExecError carrying runc's message. */
  private run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, ["--root", this.root, ...args], (err, stdout, stderr) => {
        if (err) reject(new ExecError(ExecErrorCode.Runtime, `runc ${args[0]} failed: ${runcMessage(stderr || err.message)}`, err));
        else resolve(stdout);
      });
    });
  }
}
