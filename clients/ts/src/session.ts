// Session credentials: the access token, refreshed before it expires and once
// after an UNAUTHENTICATED answer, single-flight (concurrent calls share one
// Refresh: refresh tokens are single-use, and presenting one twice revokes
// the whole session).

import { Code } from "@connectrpc/connect";
import { OchreError, SignedOutError } from "./errors.js";

/** A signed-in session, as Login/CompleteLogin/Refresh return it. */
export interface Session {
  accessToken: string;
  /** When the access token stops working (15 minutes after issue). */
  accessTokenExpiresAt?: Date;
  refreshToken: string;
  refreshTokenExpiresAt?: Date;
}

/** A Timestamp-like value (`google.protobuf.Timestamp`) or a Date. */
type TimeLike = Date | { seconds: bigint | number; nanos?: number } | undefined;

/** The SessionTokens message (or a plain object of the same shape). */
export interface SessionTokensLike {
  accessToken: string;
  accessTokenExpiresAt?: TimeLike;
  refreshToken: string;
  refreshTokenExpiresAt?: TimeLike;
}

function toDate(t: TimeLike): Date | undefined {
  if (t === undefined) return undefined;
  if (t instanceof Date) return t;
  return new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
}

/** A Session from the `SessionTokens` of a Login, CompleteLogin or Refresh. */
export function toSession(tokens: SessionTokensLike): Session {
  return {
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: toDate(tokens.accessTokenExpiresAt),
    refreshToken: tokens.refreshToken,
    refreshTokenExpiresAt: toDate(tokens.refreshTokenExpiresAt),
  };
}

/** Sends one Refresh (no credentials attached) and returns the new tokens. */
export type RefreshCall = (refreshToken: string) => Promise<SessionTokensLike | undefined>;

/** Holds a session and refreshes it single-flight. */
export class SessionKeeper {
  private current: Session;
  private inflight: Promise<Session> | undefined;
  private signedOut: SignedOutError | undefined;

  constructor(
    session: Session,
    private readonly refreshCall: RefreshCall,
    private readonly onTokens: ((s: Session) => void) | undefined,
    private readonly marginMs: number,
  ) {
    this.current = { ...session };
  }

  /** The session as it stands (after any refresh). */
  get session(): Session {
    return { ...this.current };
  }

  /** An access token good for a call now: refreshed first when it expires within the margin. */
  async accessToken(): Promise<string> {
    if (this.signedOut) throw this.signedOut;
    const expires = this.current.accessTokenExpiresAt;
    if (expires && expires.getTime() - this.marginMs <= Date.now()) {
      return (await this.refresh(this.current.accessToken)).accessToken;
    }
    return this.current.accessToken;
  }

  /**
   * Refreshes the session unless `stale` is no longer the current access
   * token (another call refreshed already). Concurrent callers share one
   * Refresh.
   */
  refresh(stale: string): Promise<Session> {
    if (this.signedOut) return Promise.reject(this.signedOut);
    if (this.current.accessToken !== stale) return Promise.resolve(this.session);
    if (!this.inflight) {
      this.inflight = this.doRefresh().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async doRefresh(): Promise<Session> {
    let tokens: SessionTokensLike | undefined;
    try {
      tokens = await this.refreshCall(this.current.refreshToken);
    } catch (e) {
      const err = OchreError.from(e);
      if (err.code === Code.Unauthenticated) {
        // Already used (the session is revoked), expired or revoked: over.
        this.signedOut = new SignedOutError(err);
        throw this.signedOut;
      }
      throw err;
    }
    if (!tokens) {
      throw new OchreError({ code: Code.Internal, message: "Refresh returned no tokens" });
    }
    this.current = toSession(tokens);
    this.onTokens?.(this.session);
    return this.session;
  }
}
