// The browser test's page script: each function runs one part of the
// scenario in the page, against the real server named by `?server=`, and
// returns what it saw as plain data (browser.test.mjs asserts on it).
// Bundled by esbuild with @ochre/client left to the page's import map.

import {
  Code,
  createOchreClient,
  downloadExport,
  type OchreClient,
  OchreError,
  type Session,
  SignedOutError,
  saveExport,
  v1,
} from "@ochre/client";

const baseUrl = new URL(location.href).searchParams.get("server") ?? "";

/** Counts the requests a client sends, by RPC path. */
function countingFetch() {
  const calls: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    calls.push(new URL(url).pathname);
    return globalThis.fetch(input, init);
  };
  const count = (suffix: string) => calls.filter((c) => c.endsWith(suffix)).length;
  return { fetch, calls, count };
}

/** An error as plain data. */
function seen(e: unknown) {
  if (!(e instanceof OchreError)) {
    return { ochreError: false, name: String((e as Error)?.name), message: String((e as Error)?.message) };
  }
  return {
    ochreError: true,
    signedOut: e instanceof SignedOutError,
    name: e.name,
    code: e.code,
    codeName: e.codeName,
    message: e.message,
    reason: e.reason,
    domain: e.domain,
    metadata: { ...e.metadata },
    fieldViolations: e.fieldViolations.map((v) => ({ ...v })),
    retryAfter: e.retryAfter,
    retryAfterHeader: e.headers.get("retry-after"),
    requestId: e.requestId ?? null,
  };
}

async function refusal(call: () => Promise<unknown>) {
  try {
    await call();
    return { refused: false } as const;
  } catch (e) {
    return { refused: true, ...seen(e) } as const;
  }
}

const state: { client?: OchreClient; org?: OchreClient; password?: string } = {};

/** Signs up, logs in, creates an org, a customer, a conversation and a message; lists them. */
async function signUpAndBuild(args: { email: string; password: string }) {
  const anonymous = createOchreClient({ baseUrl });
  const info = await anonymous.system.getServerInfo({});
  await anonymous.auth.signUp({ email: args.email, password: args.password, displayName: "FAKE Browser User" });
  const login = await anonymous.auth.login({ email: args.email, password: args.password });
  if (!login.tokens) throw new Error("Login returned no session");
  const rotated: Session[] = [];
  const client = createOchreClient({ baseUrl, session: login.tokens, onTokens: (s) => rotated.push(s) });
  const me = await client.auth.whoAmI({});
  const { org } = await client.orgs.createOrg({ name: "Browser FAKE Support" });
  if (!org) throw new Error("CreateOrg returned no org");
  const acme = client.withOrg(org.id);
  const { customer } = await acme.customers.upsertCustomer({
    email: "browser-customer-FAKE@example.com",
    name: "Ada FAKE",
  });
  if (!customer) throw new Error("UpsertCustomer returned no customer");
  const { conversation } = await acme.conversations.createConversation({
    customerId: customer.id,
    channel: v1.Channel.EMAIL,
    subject: "My order is late",
  });
  if (!conversation) throw new Error("CreateConversation returned no conversation");
  await acme.conversations.addMessage({
    conversationId: conversation.id,
    kind: v1.MessageKind.INBOUND_EMAIL,
    body: "Where is parcel 42?",
  });
  const customers = await acme.customers.listCustomers({});
  const conversations = await acme.conversations.listConversations({});
  const messages = await acme.conversations.listMessages({ conversationId: conversation.id });
  Object.assign(state, { client, org: acme, password: args.password });
  return {
    server: info.name,
    me: me.user?.email ?? "",
    orgId: org.id,
    customerId: customer.id,
    conversationId: conversation.id,
    customers: customers.customers.map((c) => ({ id: c.id, email: c.email, name: c.name })),
    conversations: conversations.conversations.map((c) => ({ id: c.id, customerId: c.customerId, subject: c.subject })),
    messages: messages.messages.map((m) => m.body),
    refreshes: rotated.length,
  };
}

/** Refusals as the client decodes them. */
async function refusals(args: { orgId: string }) {
  const noCredentials = createOchreClient({ baseUrl, org: args.orgId });
  const fakeKey = createOchreClient({ baseUrl, org: args.orgId, apiKey: "ochre_sk_FAKE0000000000000000000000" });
  const org = state.org;
  if (!org) throw new Error("signUpAndBuild first");
  return {
    missing: await refusal(() => noCredentials.customers.listCustomers({})),
    badKey: await refusal(() => fakeKey.conversations.listConversations({})),
    invalid: await refusal(() =>
      org.conversations.addMessage({
        conversationId: "not-a-uuid",
        kind: v1.MessageKind.INTERNAL_NOTE,
        body: "a note",
      }),
    ),
  };
}

/** `n` concurrent calls over a session whose access token has expired. */
async function concurrentOverExpiredSession(args: {
  accessToken: string;
  refreshToken: string;
  /** When the access token expired (ms since the epoch), or null when unknown. */
  expiredAt: number | null;
  n: number;
}) {
  const net = countingFetch();
  const rotated: Session[] = [];
  const client = createOchreClient({
    baseUrl,
    fetch: net.fetch,
    session: {
      accessToken: args.accessToken,
      refreshToken: args.refreshToken,
      accessTokenExpiresAt: args.expiredAt === null ? undefined : new Date(args.expiredAt),
    },
    onTokens: (s) => rotated.push(s),
  });
  const answers = await Promise.allSettled(
    Array.from({ length: args.n }, (_, i) =>
      i % 2 === 0 ? client.auth.whoAmI({}) : client.auth.listSessions({}),
    ),
  );
  const failures = answers.flatMap((a) => (a.status === "rejected" ? [seen(a.reason)] : []));
  return {
    ok: answers.length - failures.length,
    failures,
    refreshRequests: net.count("/ochre.v1.AuthService/Refresh"),
    requests: net.calls.length,
    onTokens: rotated.length,
    newAccessToken: client.session?.accessToken !== args.accessToken,
    expiresInMs: (client.session?.accessTokenExpiresAt?.getTime() ?? 0) - Date.now(),
  };
}

/** A refresh token presented a second time: the client is signed out. */
async function reusedRefreshToken(args: { accessToken: string; refreshToken: string }) {
  const net = countingFetch();
  const client = createOchreClient({
    baseUrl,
    fetch: net.fetch,
    session: { accessToken: args.accessToken, refreshToken: args.refreshToken, accessTokenExpiresAt: new Date(0) },
  });
  const first = await refusal(() => client.auth.whoAmI({}));
  const again = await refusal(() => client.auth.whoAmI({}));
  return { first, again, refreshRequests: net.count("/ochre.v1.AuthService/Refresh"), requests: net.calls.length };
}

/** Saves an export of the org, checks it, and downloads it as a file. */
async function exportWorkspace(args: { fileName: string }) {
  const org = state.org;
  if (!org) throw new Error("signUpAndBuild first");
  const saved = await saveExport(org);
  const text = new TextDecoder("latin1").decode(saved.bytes);
  downloadExport(saved, args.fileName);
  return {
    size: saved.size,
    blobSize: saved.blob.size,
    blobType: saved.blob.type,
    sha256: saved.sha256,
    zipMagic: text.startsWith("PK\u0003\u0004"),
    hasManifest: text.includes("manifest.json"),
    snapshotTime: saved.snapshotTime?.toISOString() ?? null,
  };
}

/** An ErrorInfo with metadata: a call on an org scheduled for deletion. */
async function pendingDeletion() {
  const { client, password } = state;
  if (!client || !password) throw new Error("signUpAndBuild first");
  const { org } = await client.orgs.createOrg({ name: "Browser FAKE Doomed" });
  if (!org) throw new Error("CreateOrg returned no org");
  const doomed = client.withOrg(org.id);
  await doomed.orgs.scheduleWorkspaceDeletion({ password });
  return refusal(() => doomed.customers.listCustomers({}));
}

/** Public calls until a rate limit refuses one. */
async function untilRateLimited(args: { max: number }) {
  const anonymous = createOchreClient({ baseUrl });
  for (let i = 1; i <= args.max; i++) {
    const r = await refusal(() => anonymous.system.getServerInfo({}));
    if (r.refused) return { calls: i, ...r };
  }
  return { calls: args.max, refused: false };
}

/** From a disallowed origin: a public call, a sign-up and an authenticated call. */
async function fromDisallowedOrigin(args: { email: string; password: string; accessToken: string; orgId: string }) {
  const anonymous = createOchreClient({ baseUrl });
  const signedIn = createOchreClient({
    baseUrl,
    org: args.orgId,
    session: { accessToken: args.accessToken, refreshToken: "ochre_rt_FAKE" },
  });
  return {
    accessRules: await refusal(() => anonymous.system.listAccessRules({})),
    signUp: await refusal(() => anonymous.auth.signUp({ email: args.email, password: args.password, displayName: "" })),
    createCustomer: await refusal(() =>
      signedIn.customers.upsertCustomer({ email: "cors-FAKE@example.com", name: "Nope" }),
    ),
    unknownCode: Code.Unknown,
    unavailableCode: Code.Unavailable,
  };
}

const scenario = {
  signUpAndBuild,
  refusals,
  concurrentOverExpiredSession,
  reusedRefreshToken,
  exportWorkspace,
  pendingDeletion,
  untilRateLimited,
  fromDisallowedOrigin,
};
(globalThis as unknown as { ochre: typeof scenario }).ochre = scenario;
const status = document.getElementById("status");
if (status) status.textContent = "ready";
