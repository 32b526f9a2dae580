// createOchreClient: every service of the Ochre API over gRPC-web (the
// browser's fetch), with credentials, the org header, single-flight session
// refresh and typed errors.

import { type DescService, getOption } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, type Interceptor, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { OchreError } from "./errors.js";
import { access } from "./gen/ochre/v1/access_pb.js";
import { AuthService } from "./gen/ochre/v1/identity_pb.js";
import { SERVICES } from "./services.js";
import { type Session, SessionKeeper, type SessionTokensLike, toSession } from "./session.js";

/** Options of {@link createOchreClient}. */
export interface OchreClientOptions {
  /** The server, e.g. `https://api.ochre.example` (gRPC-web on the same port as gRPC). */
  baseUrl: string;
  /** An org API key (`ochre_sk_…`): server-side integrations. */
  apiKey?: string;
  /** A user session from Login/CompleteLogin (the `SessionTokens` message or a {@link Session}). */
  session?: SessionTokensLike | Session;
  /** The org calls act on (`x-ochre-org`); not needed for account-level calls. */
  org?: string;
  /** Called with the new tokens after every refresh: persist them. */
  onTokens?: (session: Session) => void;
  /** Per-call deadline in milliseconds (default 15,000). */
  timeoutMs?: number;
  /** Refresh this long before the access token expires (default 60,000 ms). */
  refreshMarginMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

type Services = { readonly [K in keyof typeof SERVICES]: Client<(typeof SERVICES)[K]> };

/** A client of every Ochre service: `client.conversations.addMessage({...})`. */
export type OchreClient = Services & {
  /** The org this client acts on, if any. */
  readonly org: string | undefined;
  /** The current session (after refreshes), for a session client. */
  readonly session: Session | undefined;
  /** A client for another org, sharing this one's credentials (and refreshes). */
  withOrg(org: string): OchreClient;
};

/** Credentials shared by a client and the clients `withOrg` derives from it. */
type Credentials =
  | { kind: "none" }
  | { kind: "apiKey"; key: string }
  | { kind: "session"; keeper: SessionKeeper };

/** Creates a client. With neither `apiKey` nor `session` only public calls work. */
export function createOchreClient(options: OchreClientOptions): OchreClient {
  if (options.apiKey && options.session) {
    throw new TypeError("createOchreClient: give apiKey or session, not both");
  }
  let credentials: Credentials = { kind: "none" };
  if (options.apiKey) {
    credentials = { kind: "apiKey", key: options.apiKey };
  } else if (options.session) {
    const bare = createClient(AuthService, transport(options, []));
    const keeper = new SessionKeeper(
      toSession(options.session),
      async (refreshToken) => (await bare.refresh({ refreshToken })).tokens,
      options.onTokens,
      options.refreshMarginMs ?? 60_000,
    );
    credentials = { kind: "session", keeper };
  }
  return build(options, credentials, options.org);
}

function transport(options: OchreClientOptions, interceptors: Interceptor[]) {
  return createGrpcWebTransport({
    baseUrl: options.baseUrl,
    interceptors,
    defaultTimeoutMs: options.timeoutMs ?? 15_000,
    fetch: options.fetch,
  });
}

function build(
  options: OchreClientOptions,
  credentials: Credentials,
  org: string | undefined,
): OchreClient {
  const t = transport(options, [authorize(credentials, org)]);
  const services = Object.fromEntries(
    Object.entries(SERVICES).map(([name, service]) => [
      name,
      typedErrors(service as DescService, createClient(service as DescService, t)),
    ]),
  ) as Services;
  return {
    ...services,
    org,
    get session() {
      return credentials.kind === "session" ? credentials.keeper.session : undefined;
    },
    withOrg: (other: string) => build(options, credentials, other),
  } as OchreClient;
}

/** A service client whose calls throw OchreError (also one that ends a stream). */
function typedErrors<S extends DescService>(service: S, client: Client<S>): Client<S> {
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = (client as Record<string, (...a: unknown[]) => unknown>)[method.localName];
    if (!call) continue;
    wrapped[method.localName] =
      method.methodKind === "unary"
        ? async (...args: unknown[]) => {
            try {
              return await call(...args);
            } catch (e) {
              throw OchreError.from(e);
            }
          }
        : (...args: unknown[]) => rethrowing(call(...args) as AsyncIterable<unknown>);
  }
  return wrapped as Client<S>;
}

async function* rethrowing<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    throw OchreError.from(e);
  }
}

/**
 * Adds `authorization` (not on public RPCs) and `x-ochre-org`. A session's
 * access token is refreshed before it expires, and once more when a unary
 * call is answered UNAUTHENTICATED (then the call is sent again).
 */
function authorize(credentials: Credentials, org: string | undefined): Interceptor {
  return (next) => async (req) => {
    if (org) req.header.set("x-ochre-org", org);
    if (getOption(req.method, access).public || credentials.kind === "none") {
      return next(req);
    }
    if (credentials.kind === "apiKey") {
      req.header.set("authorization", `Bearer ${credentials.key}`);
      return next(req);
    }
    const keeper = credentials.keeper;
    const token = await keeper.accessToken();
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (e) {
      if (ConnectError.from(e).code !== Code.Unauthenticated || req.stream) throw e;
      const fresh = await keeper.refresh(token);
      req.header.set("authorization", `Bearer ${fresh.accessToken}`);
      return next(req);
    }
  };
}
