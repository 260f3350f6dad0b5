/**
 * The rules specs follow beyond their types, by Docker's rules. A config: a name of at most 64
 * letters, digits, `-`, `_` and `.` that starts and ends with a letter or digit, and between 1
 * byte and 500 KiB of data. Labels of any spec: no empty key.
 */
import * as grpc from "@grpc/grpc-js";
import type { ConfigSpec } from "../../proto/gen/specs.ts";
import { grpcError } from "./errors.ts";

/** Docker's rule for config and secret names (swarmkit's `isValidConfigOrSecretName`). */
export const CONFIG_NAME_PATTERN = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
/** The longest config name Docker accepts. */
export const MAX_CONFIG_NAME_LENGTH = 64;
/** The most data a config holds: 500 KiB, as Docker's configs (they travel in every assignment that uses them). */
export const MAX_CONFIG_BYTES = 500 * 1024;

/** `spec` when it is acceptable; otherwise an INVALID_ARGUMENT error saying what is wrong. */
export function validateConfigSpec(spec: ConfigSpec | undefined): ConfigSpec {
  if (!spec) throw grpcError(grpc.status.INVALID_ARGUMENT, "a config spec is required");
  const name = spec.annotations?.name ?? "";
  if (!name) throw grpcError(grpc.status.INVALID_ARGUMENT, "a config name is required");
  if (name.length > MAX_CONFIG_NAME_LENGTH || !CONFIG_NAME_PATTERN.test(name)) {
    throw grpcError(grpc.status.INVALID_ARGUMENT,
      `invalid config name ${JSON.stringify(name)}: only ${MAX_CONFIG_NAME_LENGTH} [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]`);
  }
  const size = spec.data.byteLength;
  if (size < 1 || size > MAX_CONFIG_BYTES) {
    throw grpcError(grpc.status.INVALID_ARGUMENT, `config data must be at least 1 byte and at most ${MAX_CONFIG_BYTES / 1024} KiB (${MAX_CONFIG_BYTES} bytes); got ${size} bytes`);
  }
  checkLabelKeys(spec.annotations?.labels);
  return spec;
}

/** Refuses, with INVALID_ARGUMENT, labels with an empty (or blank) key. */
export function checkLabelKeys(labels: Readonly<Record<string, string>> | undefined): void {
  for (const key of Object.keys(labels ?? {})) {
    if (!key.trim()) throw grpcError(grpc.status.INVALID_ARGUMENT, "label keys must not be empty");
  }
}
