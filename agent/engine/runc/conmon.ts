/**
 * Creates a container under conmon, the small C monitor Podman and CRI-O use. conmon detaches from
 * the agent (its own session, reparented to init), runs `runc create`, holds the container's
 * stdout and stderr and writes them to a size-bounded log with timestamps, and writes the exit
 * code to a file when the process ends. So a container outlives the agent: a restarted agent
 * finds it by its directory and runc's state, and learns its end from the exit file.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { ExecError, ExecErrorCode } from "../../exec/errors.ts";
import type { ContainerPaths } from "./paths.ts";
import { runcMessage } from "./runc.ts";
import type { Runc } from "./runc.ts";

/** conmon reports over this inherited descriptor (its `_OCI_SYNCPIPE` protocol). */
const SYNC_FD = 3;

/** What conmon writes to the sync pipe: the container pid, or -1 and runc's error. */
interface SyncMessage {
  data: number;
  message?: string;
}

/** Reads the first JSON line from conmon's sync pipe, then lets go of the pipe. */
function readSync(pipe: Readable): Promise<SyncMessage | undefined> {
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = (msg: SyncMessage | undefined): void => {
      pipe.removeAllListeners();
      pipe.destroy();
      resolve(msg);
    };
    pipe.on("data", (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf("\n");
      if (nl < 0) return;
      try {
        finish(JSON.parse(text.slice(0, nl)) as SyncMessage);
      } catch (err) {
        pipe.destroy();
        reject(err);
      }
    });
    pipe.on("end", () => finish(undefined));
    pipe.on("error", reject);
  });
}

/**
 * Has conmon create the container `paths.id` from its bundle; resolves with the pid of the
 * container's (not yet started) process. A runc failure (such as a missing command) is a
 * `runtime` ExecError with runc's message.
 */
export async function createContainer(conmon: string, runc: Runc, paths: ContainerPaths, logMaxBytes: number): Promise<number> {
  // prettier-ignore
  const args = [
    "--api-version", "1",
    "-c", paths.id, "-u", paths.id, "-n", paths.id,
    "-r", runc.binary, "--runtime-arg", "--root", "--runtime-arg", runc.root,
    "-b", paths.dir, "-p", paths.pidFile, "-P", paths.conmonPidFile,
    "--socket-dir-path", paths.dir, "--exit-dir", paths.exitDir, "--persist-dir", paths.persist,
    "-l", `k8s-file:${paths.log}`, "--log-size-max", String(logMaxBytes),
    "--log-level", "error", "--no-new-keyring",
  ];
  // conmon writes an `oom` marker into its working directory (as well as --persist-dir) when the
  // container is OOM-killed: run it in the container's own directory, not the agent's.
  const child = spawn(conmon, args, {
    stdio: ["ignore", "ignore", "pipe", "pipe"], env: { ...process.env, _OCI_SYNCPIPE: String(SYNC_FD) }, detached: true, cwd: paths.dir,
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (err) => reject(new ExecError(ExecErrorCode.Runtime, `cannot run conmon (${conmon}): ${err.message}`, err)));
  });
  await spawned;
  const msg = await readSync(child.stdio[SYNC_FD] as Readable);
  child.stderr!.destroy();
  child.unref();
  if (!msg) throw new ExecError(ExecErrorCode.Runtime, `conmon exited without creating container ${paths.id}: ${stderr.replace(/\[conmon:d\][^\n]*\n?/g, "").trim() || "no message"}`);
  if (msg.data < 0) throw new ExecError(ExecErrorCode.Runtime, `creating container ${paths.id} failed: ${runcMessage(msg.message ?? "")}`);
  return msg.data;
}
