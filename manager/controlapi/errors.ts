/**
 * One table from the errors of the store, the Raft node and the CA to gRPC status codes, so
 * every API answers the same failure with the same code; the message is kept for people.
 */
import * as grpc from "@grpc/grpc-js";
import { StoreError, StoreErrorCode } from "../store/index.ts";
import { RaftError, RaftErrorCode } from "../raft/errors.ts";

const STORE_CODES: Record<StoreErrorCode, grpc.status> = {
  [StoreErrorCode.CONFLICT]: grpc.status.ABORTED,
  [StoreErrorCode.NOT_FOUND]: grpc.status.NOT_FOUND,
  [StoreErrorCode.ALREADY_EXISTS]: grpc.status.ALREADY_EXISTS,
  [StoreErrorCode.INVALID]: grpc.status.INVALID_ARGUMENT,
  [StoreErrorCode.SLOW_WATCHER]: grpc.status.RESOURCE_EXHAUSTED,
};

const RAFT_CODES: Partial<Record<RaftErrorCode, grpc.status>> = {
  [RaftErrorCode.PROPOSAL_DROPPED]: grpc.status.UNAVAILABLE,
  [RaftErrorCode.CONF_CHANGE_REFUSED]: grpc.status.FAILED_PRECONDITION,
};

/** A gRPC error with `code` and a message for people. */
export function grpcError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

/** Converts any error to a gRPC error: known codes mapped, gRPC errors kept, the rest INTERNAL. */
export function toGrpcError(err: unknown): grpc.ServiceError {
  if (err instanceof StoreError) return grpcError(STORE_CODES[err.code], err.message);
  if (err instanceof RaftError) return grpcError(RAFT_CODES[err.code] ?? grpc.status.INTERNAL, err.message);
  if (err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === "number") {
    const e = err as grpc.ServiceError;
    // Keep the error itself (and its metadata); make sure people get a message.
    if (!e.details) e.details = e.message;
    if (!e.metadata) e.metadata = new grpc.Metadata();
    return e;
  }
  return grpcError(grpc.status.INTERNAL, err instanceof Error ? err.message : String(err));
}
