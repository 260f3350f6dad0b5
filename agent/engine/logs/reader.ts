/**
 * Reads a container's log file: since and tail over what is there, then, when following, what is
 * appended until the container stops. A file that shrinks or is replaced (the writer starts over
 * when it reaches its size bound) is read again from its start.
 */
import { open, stat } from "node:fs/promises";
import type { LogEntry, LogOptions, LogStream } from "../../exec/contract.ts";
import { parseRecord } from "./format.ts";

/** How often a follower looks for new output: fast enough to feel live, cheap for idle containers. */
const FOLLOW_POLL_MS = 100;

/** Where a reader is in the file, and the pieces of lines it holds. */
interface Cursor {
  ino: number;
  offset: number;
  rest: string;
  partial: Record<LogStream, string>;
}

/** Reads new bytes from the cursor's offset and returns the complete entries they end. */
async function readMore(path: string, cur: Cursor): Promise<LogEntry[]> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return [];
  if (st.ino !== cur.ino || st.size < cur.offset) Object.assign(cur, { ino: st.ino, offset: 0, rest: "", partial: { stdout: "", stderr: "" } });
  if (st.size === cur.offset) return [];
  const fh = await open(path, "r");
  let text: string;
  try {
    const buf = Buffer.alloc(st.size - cur.offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, cur.offset);
    cur.offset += bytesRead;
    text = cur.rest + buf.toString("utf8", 0, bytesRead);
  } finally {
    await fh.close();
  }
  const lines = text.split("\n");
  cur.rest = lines.pop() ?? "";
  const out: LogEntry[] = [];
  for (const l of lines) {
    const r = parseRecord(l);
    if (!r) continue;
    if (!r.full) {
      cur.partial[r.stream] += r.line;
      continue;
    }
    out.push({ time: r.time, timestamp: r.timestamp, stream: r.stream, line: cur.partial[r.stream] + r.line });
    cur.partial[r.stream] = "";
  }
  return out;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * The entries of the log at `path`. With `follow`, keeps yielding new entries until `stopped()`
 * says the writer is done (checked after each empty read) or `options.signal` aborts.
 */
export async function* readLog(path: string, options: LogOptions, stopped: () => Promise<boolean>): AsyncGenerator<LogEntry> {
  const cur: Cursor = { ino: -1, offset: 0, rest: "", partial: { stdout: "", stderr: "" } };
  let first = await readMore(path, cur);
  if (options.since !== undefined) first = first.filter((e) => e.time >= options.since!);
  if (options.tail !== undefined) first = options.tail > 0 ? first.slice(-options.tail) : [];
  yield* first;
  if (!options.follow) return;
  while (!options.signal?.aborted) {
    const more = await readMore(path, cur);
    yield* more;
    if (more.length === 0) {
      if (await stopped()) {
        yield* await readMore(path, cur); // what was written between the last read and the stop
        return;
      }
      await pause(FOLLOW_POLL_MS, options.signal);
    }
  }
}
