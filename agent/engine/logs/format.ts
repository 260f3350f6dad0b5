/**
 * The on-disk log format, the one conmon writes (`-l k8s-file:`) and the CRI defines: one record
 * per line, `<RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <text>`, where P marks a
 * partial line continued by the next record of the same stream.
 */
import type { LogEntry, LogStream } from "../../exec/contract.ts";

/** A parsed record: a full line or a piece of one. */
export interface LogRecord extends LogEntry {
  /** False for a piece (P) that the next record of the stream continues. */
  full: boolean;
}

/** The timestamp as conmon writes it, from a time in milliseconds and extra nanoseconds. */
export function formatTimestamp(ms: number, extraNs = 0): string {
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.123Z
  return `${iso.slice(0, 23)}${String(extraNs).padStart(6, "0")}+00:00`;
}

/** Milliseconds since the epoch of a record's timestamp (the sub-millisecond digits are dropped). */
export function parseTimestamp(ts: string): number {
  return Date.parse(ts.replace(/(\.\d{3})\d+/, "$1"));
}

/** Formats one record. */
export function formatRecord(timestamp: string, stream: LogStream, full: boolean, text: string): string {
  return `${timestamp} ${stream} ${full ? "F" : "P"} ${text}\n`;
}

/** Parses one line of the log file (without its newline); undefined for a line that is not a record. */
export function parseRecord(line: string): LogRecord | undefined {
  const a = line.indexOf(" ");
  const b = line.indexOf(" ", a + 1);
  const c = line.indexOf(" ", b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const flag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const timestamp = line.slice(0, a);
  return { timestamp, time: parseTimestamp(timestamp), stream, full: flag !== "P", line: c < 0 ? "" : line.slice(c + 1) };
}
