/**
 * How results are shown: tables for people (columns as `docker node ls` lays them out), JSON for
 * programs (indented as `docker inspect` does), labelled fields for `inspect --pretty`, and the
 * words for times, ages and labels they share.
 */

/** Spaces between two columns of a table (the padding of Docker's tabwriter). */
const COLUMN_GAP = 3;

/** A table: a header line, then one line per row, every column as wide as its widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, col) => Math.max(h.length, ...rows.map((row) => (row[col] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, col) => cell.padEnd(widths[col]! + COLUMN_GAP))
      .join("")
      .trimEnd() + "\n";
  return line(headers) + rows.map(line).join("");
}

/** `value` as indented JSON, as `docker inspect` prints it. */
export function renderJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + "\n";
}

/** `value` as one line of JSON (`--format json` of list commands prints one such line per item). */
export function renderJsonLine(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

/**
 * One entry of a {@link renderFields} listing: a labelled value, a labelled group of entries
 * (shown indented under its label), or a labelled list (shown as `- item` lines).
 */
export type Field =
  | { label: string; value: string }
  | { label: string; fields: Field[] }
  | { label: string; items: string[] };

/**
 * Labelled fields, as `docker node inspect --pretty` shows them: values aligned within each
 * level, groups indented by one space under their label. Empty values, groups and lists are left
 * out, so callers can list every field and let the absent ones drop.
 */
export function renderFields(fields: readonly Field[], indent = ""): string {
  const values = fields.filter((f) => "value" in f && f.value !== "");
  const width = Math.max(0, ...values.map((f) => f.label.length + 1));
  let out = "";
  for (const field of fields) {
    if ("value" in field) {
      if (field.value !== "") out += `${indent}${(field.label + ":").padEnd(width)}  ${field.value}\n`;
      continue;
    }
    const body = "fields" in field ? renderFields(field.fields, indent + " ") : field.items.map((item) => `${indent} - ${item}\n`).join("");
    if (body) out += `${indent}${field.label}:\n${body}`;
  }
  return out;
}

/** `k=v` lines of a label map, sorted by key. */
export function labelItems(labels: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
}

/** A time in ms since the epoch as ISO 8601; empty when unset. */
export function timestamp(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString() : "";
}

/** How long ago `ms` was, in Docker's words (go-units' HumanDuration): `About a minute ago`, `3 days ago`. */
export function ago(ms: number | undefined, now: number): string {
  if (!ms) return "";
  const seconds = Math.floor((now - ms) / 1000);
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(seconds / 3600 + 0.5);
  let words: string;
  if (seconds < 1) words = "Less than a second";
  else if (seconds === 1) words = "1 second";
  else if (seconds < 60) words = `${seconds} seconds`;
  else if (minutes === 1) words = "About a minute";
  else if (minutes < 60) words = `${minutes} minutes`;
  else if (hours === 1) words = "About an hour";
  else if (hours < 48) words = `${hours} hours`;
  else if (hours < 24 * 7 * 2) words = `${Math.floor(hours / 24)} days`;
  else if (hours < 24 * 30 * 2) words = `${Math.floor(hours / 24 / 7)} weeks`;
  else if (hours < 24 * 365 * 2) words = `${Math.floor(hours / 24 / 30)} months`;
  else words = `${Math.floor(seconds / 3600 / 24 / 365)} years`;
  return `${words} ago`;
}
