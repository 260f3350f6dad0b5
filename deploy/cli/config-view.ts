/**
 * Configs as people and scripts see them: the row of `config ls` and its JSON line (as `docker
 * config ls` shows them), the object `config inspect` prints (its data in base64, as Docker
 * prints it), and `config inspect --pretty`.
 */
import type { Config } from "../../proto/gen/objects.ts";
import { ago, labelItems, renderFields, timestamp } from "./output.ts";

/** What `config ls --format json` prints of one config. */
export interface ConfigSummary {
  ID: string;
  Name: string;
  /** ISO 8601. */
  CreatedAt: string;
  /** ISO 8601. */
  UpdatedAt: string;
  /** `k=v` pairs, comma-separated, sorted by key. */
  Labels: string;
}

/** The summary of `config`. */
export function summarizeConfig(config: Config): ConfigSummary {
  return {
    ID: config.id,
    Name: config.spec?.annotations?.name ?? "",
    CreatedAt: timestamp(config.meta?.createdAt),
    UpdatedAt: timestamp(config.meta?.updatedAt),
    Labels: labelItems(config.spec?.annotations?.labels).join(","),
  };
}

/** The columns of `config ls`. */
export const CONFIG_TABLE_HEADERS = ["ID", "NAME", "CREATED", "UPDATED"] as const;

/** One row of `config ls`; ages are counted back from `now`. */
export function configRow(config: Config, now: number): string[] {
  return [config.id, config.spec?.annotations?.name ?? "", ago(config.meta?.createdAt, now), ago(config.meta?.updatedAt, now)];
}

/** Orders configs as `docker config ls` does: by name, numbers in names compared as numbers. */
export function byName(a: Config, b: Config): number {
  return (a.spec?.annotations?.name ?? "").localeCompare(b.spec?.annotations?.name ?? "", "en", { numeric: true }) || a.id.localeCompare(b.id);
}

/** A config as `config inspect` prints it: everything, the data in base64 (JSON has no bytes). */
export type ShownConfig = Omit<Config, "spec"> & { spec?: Omit<NonNullable<Config["spec"]>, "data"> & { data: string } };

/** `config` with its data in base64. */
export function shownConfig(config: Config): ShownConfig {
  if (!config.spec) return { ...config, spec: undefined };
  return { ...config, spec: { ...config.spec, data: Buffer.from(config.spec.data).toString("base64") } };
}

/** `config inspect --pretty`: labelled fields, then the data as text. */
export function prettyConfig(config: Config): string {
  const fields = renderFields([
    { label: "ID", value: config.id },
    { label: "Name", value: config.spec?.annotations?.name ?? "" },
    { label: "Labels", items: labelItems(config.spec?.annotations?.labels) },
    { label: "Created at", value: timestamp(config.meta?.createdAt) },
    { label: "Updated at", value: timestamp(config.meta?.updatedAt) },
  ]);
  const data = Buffer.from(config.spec?.data ?? new Uint8Array()).toString("utf8");
  return `${fields}Data:\n${data}${data.endsWith("\n") ? "" : "\n"}`;
}
