// OchreError: every refusal of the Ochre API as one typed error, with the
// google.rpc details the server sends in `grpc-status-details-bin` decoded.

import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

/** One offending field of a request (`google.rpc.BadRequest`). */
export interface FieldViolation {
  /** The request's field path, e.g. `email` or `customer.custom_fields[plan]`. */
  field: string;
  /** What is wrong with it (safe to show). */
  description: string;
}

/** The gRPC status names, indexed by code. */
const CODE_NAMES: Record<number, string> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/**
 * A call the server refused (or that could not reach it). `code` is the gRPC
 * status code (`Code` of `@connectrpc/connect`, re-exported by this package),
 * `message` the server's own text, and the `google.rpc` details decoded:
 * `reason`/`domain`/`metadata` (ErrorInfo), `fieldViolations` (BadRequest),
 * `retryAfter` in seconds (RetryInfo, else the `retry-after` header).
 * `cause` is the ConnectError it was decoded from.
 */
export class OchreError extends Error {
  override name = "OchreError";
  /** The gRPC status code. */
  readonly code: Code;
  /** The status name, e.g. `UNAUTHENTICATED`. */
  readonly codeName: string;
  /** `google.rpc.ErrorInfo.reason`: stable and machine-readable, or `""`. */
  readonly reason: string;
  /** `google.rpc.ErrorInfo.domain` (`ochre.v1`), or `""`. */
  readonly domain: string;
  /** `google.rpc.ErrorInfo.metadata` (e.g. a purge date). */
  readonly metadata: Readonly<Record<string, string>>;
  /** `google.rpc.BadRequest.field_violations`. */
  readonly fieldViolations: readonly FieldViolation[];
  /** Seconds to wait before retrying (RetryInfo, else `retry-after`). */
  readonly retryAfter: number | undefined;
  /** The response headers and trailers the refusal came with. */
  readonly headers: Headers;
  /** The server's request id (`x-request-id`), to quote in a support request. */
  readonly requestId: string | undefined;

  constructor(init: {
    code: Code;
    message: string;
    reason?: string;
    domain?: string;
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
    retryAfter?: number | undefined;
    headers?: Headers;
    cause?: unknown;
  }) {
    super(init.message, { cause: init.cause });
    this.code = init.code;
    this.codeName = CODE_NAMES[init.code] ?? `CODE_${init.code}`;
    this.reason = init.reason ?? "";
    this.domain = init.domain ?? "";
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfter = init.retryAfter;
    this.headers = init.headers ?? new Headers();
    this.requestId = this.headers.get("x-request-id") ?? undefined;
  }

  /** Decodes a ConnectError (or anything thrown by a call) into an OchreError. */
  static from(cause: unknown): OchreError {
    if (cause instanceof OchreError) return cause;
    // Thrown inside the transport (a refused Refresh), wrapped by connect.
    if (cause instanceof ConnectError && cause.cause instanceof OchreError) return cause.cause;
    const err = ConnectError.from(cause);
    const info = err.findDetails(ErrorInfoSchema)[0];
    const fieldViolations = err
      .findDetails(BadRequestSchema)
      .flatMap((b) => b.fieldViolations)
      .map((v) => ({ field: v.field, description: v.description }));
    const delay = err.findDetails(RetryInfoSchema)[0]?.retryDelay;
    let retryAfter: number | undefined;
    if (delay) {
      retryAfter = Number(delay.seconds) + delay.nanos / 1e9;
    } else {
      const header = Number.parseInt(err.metadata.get("retry-after") ?? "", 10);
      retryAfter = Number.isFinite(header) ? header : undefined;
    }
    return new OchreError({
      code: err.code,
      message: err.rawMessage,
      reason: info?.reason,
      domain: info?.domain,
      metadata: info ? { ...info.metadata } : undefined,
      fieldViolations,
      retryAfter,
      headers: err.metadata,
      cause,
    });
  }
}

/**
 * The session is over: its refresh token was refused (already used, which
 * revokes the whole session, or expired or revoked). Sign in again.
 */
export class SignedOutError extends OchreError {
  override name = "SignedOutError";
  readonly signedOut = true;

  constructor(refusal: OchreError) {
    super({
      code: Code.Unauthenticated,
      message: `signed out: ${refusal.message}`,
      reason: refusal.reason,
      domain: refusal.domain,
      metadata: { ...refusal.metadata },
      headers: refusal.headers,
      cause: refusal,
    });
  }
}
