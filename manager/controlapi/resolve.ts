/**
 * How the control API finds the one object a user's reference names: Docker lets people name
 * objects by id, by name (or hostname) and by a unique id prefix, tried in an order per kind.
 */
import * as grpc from "@grpc/grpc-js";
import { grpcError } from "./errors.ts";

/** One way of naming: the objects that `ref` names that way. */
export type Lookup<T> = (ref: string) => readonly T[];

/**
 * The object `ref` names: the ways are tried in order, and the first one that finds anything
 * decides; finding more than one is FAILED_PRECONDITION (ambiguous), none at all NOT_FOUND, an
 * empty `ref` INVALID_ARGUMENT saying `required`.
 */
export function resolveRef<T extends { readonly id: string }>(kind: string, ref: string, required: string, ways: readonly Lookup<T>[]): T {
  if (!ref) throw grpcError(grpc.status.INVALID_ARGUMENT, required);
  for (const way of ways) {
    const matches = way(ref);
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw grpcError(grpc.status.FAILED_PRECONDITION, `${kind} ${ref} is ambiguous (${matches.length} matches: ${matches.map((o) => o.id).join(", ")})`);
    }
  }
  throw grpcError(grpc.status.NOT_FOUND, `${kind} ${ref} not found`);
}
