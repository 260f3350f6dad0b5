/** The runc command line: state, start, kill, exec, delete, with failures as ExecErrors. */
import { execFile } from "node:child_process";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ProbeResult } from "../health.ts";
import { runProbe } from "../probe.ts";

/** What `runc state` reports. */
export interface RuncState {
  id: string;
  pid: number;
  status: "creating" | "created" | "running" | "paused" | "stopped";
  bundle: string;
}

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
  async exec(id: string, argv: string[], timeoutMs: number): Promise<ProbeResult> {
    const r = await runProbe(this.binary, ["--root", this.root, "exec", id, ...argv], {}, timeoutMs);
    return /level=error/.test(r.output) ? { ...r, output: runcMessage(r.output) } : r;
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
