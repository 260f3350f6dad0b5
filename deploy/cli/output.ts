/**
 * How results are shown: tables for people (columns as `docker node ls` lays them out), JSON for
 * programs (indented as `docker inspect` does), and labelled fields for `inspect --pretty`.
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
