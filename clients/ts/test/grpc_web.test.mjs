// The generated code of @ochre/client (clients/ts, built by `npm run build`)
// against a real Ochre server over gRPC-web, through both the browser
// transport (fetch) and the Node transport on HTTP/1.1, in Node. The Rust
// test `grpc_web_ts` starts the server and sets OCHRE_TEST_URL. (The package
// itself runs in a real browser in test-browser/.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport as webTransport } from "@connectrpc/connect-web";
import { createGrpcWebTransport as nodeTransport } from "@connectrpc/connect-node";
import { SERVICES, SurveyService, SystemService, createOchreClient, v1 } from "@ochre/client";

const { Role } = v1;

const baseUrl = process.env.OCHRE_TEST_URL;
assert.ok(baseUrl, "OCHRE_TEST_URL must name a running server");

const transports = {
  "connect-web (fetch, as in the browser)": () => webTransport({ baseUrl }),
  "connect-node (HTTP/1.1)": () => nodeTransport({ baseUrl, httpVersion: "1.1" }),
};

for (const [name, make] of Object.entries(transports)) {
  test(`GetServerInfo answers over ${name}`, async () => {
    const client = createClient(SystemService, make());
    const info = await client.getServerInfo({});
    assert.equal(info.name, "ochre");
    assert.equal(info.apiVersion, "ochre.v1");
  });

  test(`ListAccessRules returns typed rules over ${name}`, async () => {
    const client = createClient(SystemService, make());
    const { rules } = await client.listAccessRules({});
    assert.ok(rules.length > 0);
    for (const r of rules) {
      assert.match(r.method, /^\/ochre\.v1\.[A-Za-z]+Service\/[A-Za-z]+$/);
      const forms = [r.rule.public, r.rule.authenticated, r.rule.roles.length > 0].filter(Boolean);
      assert.equal(forms.length, 1, `${r.method} declares exactly one form of rule`);
      for (const role of r.rule.roles) assert.notEqual(role, Role.UNSPECIFIED);
    }
  });
}

test("a customer reads and answers a survey over the browser transport, once", async () => {
  const token = process.env.OCHRE_TEST_SURVEY_TOKEN;
  assert.ok(token, "OCHRE_TEST_SURVEY_TOKEN must name a sent survey");
  const web = createClient(SurveyService, transports["connect-web (fetch, as in the browser)"]());
  const page = await web.getSurvey({ token });
  assert.equal(page.orgName, "Acme Support");
  assert.deepEqual([page.scaleMin, page.scaleMax, page.answered], [1, 5, false]);
  const done = await web.submitSurveyResponse({ token, score: 5, comment: "Quick and kind." });
  assert.ok(done.submittedAt);
  assert.equal((await web.getSurvey({ token })).answered, true);
  const node = createClient(SurveyService, transports["connect-node (HTTP/1.1)"]());
  await assert.rejects(
    node.submitSurveyResponse({ token, score: 1, comment: "" }),
    (e) => e instanceof ConnectError && e.code === Code.FailedPrecondition,
  );
  await assert.rejects(
    web.getSurvey({ token: token.slice(0, -2) }),
    (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
  );
});

test("every service of the contract is a property of createOchreClient's client", () => {
  const contract = Object.values(v1).filter((x) => x?.kind === "service");
  assert.ok(contract.length >= 14);
  const client = createOchreClient({ baseUrl });
  for (const service of contract) {
    const name = Object.keys(SERVICES).find((k) => SERVICES[k] === service);
    assert.ok(name, `${service.typeName} is in SERVICES (clients/ts/src/services.ts)`);
    for (const m of service.methods) assert.equal(typeof client[name][m.localName], "function");
  }
  assert.equal(Object.keys(SERVICES).length, contract.length);
});
