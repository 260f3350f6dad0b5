/**
 * The CA's errors in one table: each kind has a stable name and the gRPC status it travels as,
 * so a caller (the CLI, a joining node, the daemon) can branch on `kind` and show `message`.
 */
import { status } from "@grpc/grpc-js";

/** Every way the CA refuses something, with the gRPC status code it is sent with. */
export const CAErrorKind = {
  /** A join token that does not follow `SHOAL-1-<64 hex digest>-<secret>`. */
  MALFORMED_TOKEN: status.INVALID_ARGUMENT,
  /** A well-formed token that is not one of the cluster's current tokens (wrong or rotated). */
  INVALID_TOKEN: status.PERMISSION_DENIED,
  /** The CA a manager presented does not have the digest the join token pins. */
  CA_MISMATCH: status.UNAUTHENTICATED,
  /** A CSR that does not parse, whose signature is wrong, or whose key is too weak. */
  BAD_CSR: status.INVALID_ARGUMENT,
  /** A request field other than the CSR is invalid (an operator name, for example). */
  BAD_REQUEST: status.INVALID_ARGUMENT,
  /** The caller has no certificate this cluster's CA signed. */
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  /** The caller's certificate role may not call this RPC. */
  WRONG_ROLE: status.PERMISSION_DENIED,
  /** The caller is a node that was removed from the cluster. */
  REMOVED: status.PERMISSION_DENIED,
  /** The caller's operator certificate, or the one asked for, carries a revoked name. */
  REVOKED: status.PERMISSION_DENIED,
  /** The cluster has no root CA yet, or the node is unknown to it. */
  NOT_READY: status.FAILED_PRECONDITION,
} as const;
/** One key of {@link CAErrorKind}. */
export type CAErrorKind = keyof typeof CAErrorKind;

/**
 * An error of the CA. It is also a grpc-js `ServerErrorResponse` (it has `code`), so a handler
 * can pass it to its callback unchanged and the client receives `message` as the status details.
 */
export class CAError extends Error {
  /** Which refusal this is, as a stable name. */
  readonly kind: CAErrorKind;
  /** The gRPC status code for {@link kind}. */
  readonly code: status;

  /** Makes an error of a kind, with a message for people. */
  constructor(kind: CAErrorKind, message: string) {
    super(message);
    this.name = "CAError";
    this.kind = kind;
    this.code = CAErrorKind[kind];
  }
}
