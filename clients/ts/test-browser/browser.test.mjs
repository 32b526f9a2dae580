// The @ochre/client browser bundle in headless Chromium (Debian's, driven by
// playwright-core) against a real Ochre server. Two static origins serve the
// same page: the allowed one (in the server's OCHRE_CORS_ORIGINS) and another.
// The Rust test `browser_ts::…` starts the server and sets:
//   OCHRE_TEST_URL                 the server (gRPC-web)
//   OCHRE_BROWSER_ALLOWED_PORT     port of the allowed origin http://127.0.0.1:PORT
//   OCHRE_BROWSER_OTHER_PORT       port of a disallowed origin
//   OCHRE_BROWSER_ACCOUNT          JSON {email, password} for the page to sign up
//   OCHRE_BROWSER_OTHER_ACCOUNT    JSON {email, password} the disallowed page tries to sign up
//   OCHRE_BROWSER_SESSIONS         JSON [{accessToken (expired), refreshToken, expiredAt}] x2
//                                  and {accessToken (valid), orgId} as the third
//   OCHRE_CHROMIUM                 the browser (default /usr/bin/chromium)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} must be set (see the header of this file)`);
  return value;
};
const server = env("OCHRE_TEST_URL");
const allowedPort = Number(env("OCHRE_BROWSER_ALLOWED_PORT"));
const otherPort = Number(env("OCHRE_BROWSER_OTHER_PORT"));
const account = JSON.parse(env("OCHRE_BROWSER_ACCOUNT"));
const otherAccount = JSON.parse(env("OCHRE_BROWSER_OTHER_ACCOUNT"));
const sessions = JSON.parse(env("OCHRE_BROWSER_SESSIONS"));

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const FILES = {
  "/": [here("./index.html"), "text/html"],
  "/ochre-client.js": [here("../dist/browser/ochre-client.js"), "text/javascript"],
  "/scenario.js": [here("./build/scenario.js"), "text/javascript"],
};

/** A tiny static server for one origin. */
function serve(port) {
  const s = http.createServer(async (req, res) => {
    const file = FILES[new URL(req.url, "http://x").pathname];
    if (!file || req.method !== "GET") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[1], "cache-control": "no-store" });
    res.end(await readFile(file[0]));
  });
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve(s));
  });
}

let statics = [];
let browser;
const pages = {};
const log = [];

async function open(port) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("console", (m) => log.push(`[${port} console.${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => log.push(`[${port} pageerror] ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/?server=${encodeURIComponent(server)}`);
  await page.waitForFunction(() => globalThis.ochre !== undefined, null, { timeout: 15_000 });
  return page;
}

/** Runs `ochre[name](args)` in the page and returns what it returned. */
function run(page, name, args) {
  return page.evaluate(([n, a]) => globalThis.ochre[n](a), [name, args]);
}

before(async () => {
  statics = [await serve(allowedPort), await serve(otherPort)];
  browser = await chromium.launch({
    executablePath: process.env.OCHRE_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false, // --no-sandbox (root in a container)
    // playwright-core gives each launch a new temporary --user-data-dir.
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  pages.allowed = await open(allowedPort);
  pages.other = await open(otherPort);
});

after(async () => {
  await browser?.close();
  for (const s of statics) s.close();
  if (log.length) console.log(log.join("\n"));
});

let built;

test("a page from the allowed origin signs up, logs in, creates an org, a customer and a conversation, and lists them", async () => {
  built = await run(pages.allowed, "signUpAndBuild", account);
  assert.equal(built.server, "ochre");
  assert.equal(built.me, account.email);
  assert.deepEqual(built.customers.map((c) => c.id), [built.customerId]);
  assert.equal(built.customers[0].name, "Ada FAKE");
  assert.deepEqual(built.conversations, [
    { id: built.conversationId, customerId: built.customerId, subject: "My order is late" },
  ]);
  assert.deepEqual(built.messages, ["Where is parcel 42?"]);
  assert.equal(built.refreshes, 0, "a fresh session needs no refresh");
});

test("refusals read as OchreError with the code, the server's message and the request id", async () => {
  assert.ok(built, "the first test ran");
  const r = await run(pages.allowed, "refusals", { orgId: built.orgId });
  for (const [what, e] of Object.entries(r)) {
    assert.equal(e.refused, true, what);
    assert.equal(e.ochreError, true, `${what}: ${JSON.stringify(e)}`);
    assert.equal(e.name, "OchreError", what);
    assert.match(e.requestId ?? "", /^[0-9a-f-]{36}$/, `${what}: x-request-id is exposed`);
  }
  assert.equal(r.missing.codeName, "UNAUTHENTICATED");
  assert.match(r.missing.message, /missing credentials/);
  assert.equal(r.badKey.codeName, "UNAUTHENTICATED");
  assert.match(r.badKey.message, /API key/);
  // The ErrorInfo reasons (and BadRequest field) of these refusals, where
  // the server sends them: exact whenever present.
  expectReason(r.missing, "CREDENTIALS_MISSING");
  expectReason(r.badKey, "API_KEY_INVALID");
  assert.equal(r.invalid.codeName, "INVALID_ARGUMENT", JSON.stringify(r.invalid));
  for (const v of r.invalid.fieldViolations) assert.ok(v.field && v.description, JSON.stringify(v));
  if (r.invalid.fieldViolations.length > 0) {
    assert.equal(r.invalid.fieldViolations[0].field, "conversation_id", JSON.stringify(r.invalid));
  }
});

/** `e` carries ErrorInfo `reason` in the ochre.v1 domain, if it carries one. */
function expectReason(e, reason) {
  assert.equal(e.reason, reason, JSON.stringify(e));
  assert.equal(e.domain, "ochre.v1", JSON.stringify(e));
}

test("an ErrorInfo detail is decoded: a call on an org scheduled for deletion names the purge date", async () => {
  const e = await run(pages.allowed, "pendingDeletion", {});
  assert.equal(e.codeName, "FAILED_PRECONDITION", JSON.stringify(e));
  assert.equal(e.reason, "WORKSPACE_PENDING_DELETION");
  assert.equal(e.domain, "ochre.v1");
  assert.match(e.metadata.purge_after ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(e.message.includes(e.metadata.purge_after), e.message);
});

test("sixteen concurrent calls over an expired session refresh it once, before sending", async () => {
  const r = await run(pages.allowed, "concurrentOverExpiredSession", { ...sessions[0], n: 16 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.ok, 16);
  assert.equal(r.refreshRequests, 1, "one Refresh for all");
  assert.equal(r.onTokens, 1, "onTokens sees the rotated session once");
  assert.equal(r.requests, 17, "no call went out with the expired token");
  assert.ok(r.newAccessToken);
  assert.ok(r.expiresInMs > 10 * 60_000, `a fresh 15-minute token: ${r.expiresInMs}`);
});

test("sixteen concurrent calls refused UNAUTHENTICATED share one refresh and are sent again", async () => {
  const r = await run(pages.allowed, "concurrentOverExpiredSession", { ...sessions[1], expiredAt: null, n: 16 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.ok, 16);
  assert.equal(r.refreshRequests, 1, "one Refresh for all");
  assert.equal(r.onTokens, 1);
  assert.equal(r.requests, 16 + 1 + 16, "each call refused once, then sent again");
});

test("a refresh token presented again signs the client out with a clear error", async () => {
  // sessions[0]'s refresh token was spent by the first concurrency test.
  const r = await run(pages.allowed, "reusedRefreshToken", sessions[0]);
  assert.equal(r.first.signedOut, true, JSON.stringify(r.first));
  assert.equal(r.first.name, "SignedOutError");
  assert.equal(r.first.codeName, "UNAUTHENTICATED");
  assert.match(r.first.message, /^signed out: .*already used/);
  expectReason(r.first, "REFRESH_TOKEN_REUSED");
  assert.equal(r.again.signedOut, true, "later calls fail the same way");
  assert.equal(r.refreshRequests, 1, "and send no second Refresh");
  assert.equal(r.requests, 1, "nor the calls");
});

test("saveExport collects the export stream, checks its size and SHA-256, and downloadExport saves it to a file", async () => {
  const fileName = "acme-FAKE-export.zip";
  const [download, r] = await Promise.all([
    pages.allowed.waitForEvent("download", { timeout: 30_000 }),
    run(pages.allowed, "exportWorkspace", { fileName }),
  ]);
  assert.equal(download.suggestedFilename(), fileName);
  const file = await readFile(await download.path());
  assert.equal(file.length, r.size, "the file holds the archive");
  assert.equal(createHash("sha256").update(file).digest("hex"), r.sha256);
  assert.ok(r.size > 0);
  assert.equal(r.blobSize, r.size);
  assert.equal(r.blobType, "application/zip");
  assert.match(r.sha256, /^[0-9a-f]{64}$/);
  assert.equal(r.zipMagic, true, "a ZIP archive");
  assert.equal(r.hasManifest, true, "holding manifest.json");
  assert.ok(r.snapshotTime);
});

test("a page from a disallowed origin gets nothing through", async () => {
  const r = await run(pages.other, "fromDisallowedOrigin", { ...otherAccount, ...sessions[2] });
  for (const what of ["accessRules", "signUp", "createCustomer"]) {
    const e = r[what];
    assert.equal(e.refused, true, what);
    assert.equal(e.ochreError, true, what);
    // The browser withholds the response: no status, only a failed fetch.
    assert.equal(e.code, r.unknownCode, `${what}: ${JSON.stringify(e)}`);
    assert.match(e.message, /fetch/i, what);
    assert.equal(e.requestId, null, `${what}: no response header was readable`);
  }
});

test("a rate-limited call exposes retryAfter from RetryInfo and the retry-after header", async () => {
  const r = await run(pages.allowed, "untilRateLimited", { max: 40 });
  assert.equal(r.refused, true, JSON.stringify(r));
  assert.equal(r.codeName, "RESOURCE_EXHAUSTED", JSON.stringify(r));
  assert.ok(r.retryAfter > 0, `retryAfter: ${r.retryAfter}`);
  expectReason(r, "RATE_LIMITED");
  assert.equal(r.retryAfterHeader, String(Math.ceil(r.retryAfter)), "retry-after is exposed by CORS");
});
