/**
 * Writes a process's output to a log file in the conmon format, bounded in size: when the next
 * record would pass the bound the file starts over empty, as conmon's `--log-size-max` does, so
 * both engines' logs behave alike.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import type { LogStream } from "../../exec/contract.ts";
import { formatRecord, formatTimestamp } from "./format.ts";

/** Longest text kept in one record; longer lines are split into partial (P) records, as conmon does. */
const MAX_RECORD_TEXT = 16 * 1024;

/** An open, bounded log file. */
export class LogWriter {
  private readonly fd: number;
  private size = 0;
  private readonly pending: Record<LogStream, string> = { stdout: "", stderr: "" };

  /**
   * @param path the file, created or truncated
   * @param maxBytes the bound on its size
   */
  constructor(
    path: string,
    private readonly maxBytes: number,
  ) {
    this.fd = openSync(path, "w", 0o600);
  }

  /** Records a chunk of output: every complete line, and long unterminated ones in pieces. */
  write(stream: LogStream, chunk: Buffer | string): void {
    const lines = (this.pending[stream] + chunk.toString()).split("\n");
    this.pending[stream] = lines.pop() ?? "";
    for (const l of lines) this.record(stream, true, l);
    while (this.pending[stream].length > MAX_RECORD_TEXT) {
      this.record(stream, false, this.pending[stream].slice(0, MAX_RECORD_TEXT));
      this.pending[stream] = this.pending[stream].slice(MAX_RECORD_TEXT);
    }
  }

  /** Writes what is left of unterminated lines and closes the file. */
  close(): void {
    for (const s of ["stdout", "stderr"] as const) if (this.pending[s]) this.record(s, true, this.pending[s]);
    closeSync(this.fd);
  }

  /** Appends one record, starting the file over when it would pass the bound. */
  private record(stream: LogStream, full: boolean, text: string): void {
    const now = process.hrtime.bigint();
    const rec = Buffer.from(formatRecord(formatTimestamp(Date.now(), Number(now % 1_000_000n)), stream, full, text));
    if (this.size + rec.length > this.maxBytes) {
      ftruncateSync(this.fd, 0);
      this.size = 0;
    }
    writeSync(this.fd, rec, 0, rec.length, this.size);
    this.size += rec.length;
  }
}
