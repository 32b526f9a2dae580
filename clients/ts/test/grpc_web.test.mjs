// The generated TypeScript client against a real Ochre server over gRPC-web,
// through both the browser transport (fetch) and the Node transport on
// HTTP/1.1. The Rust test `grpc_web_ts` starts the server and sets
// OCHRE_TEST_URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport as webTransport } from "@connectrpc/connect-web";
import { createGrpcWebTransport as nodeTransport } from "@connectrpc/connect-node";
import { SystemService } from "../gen/ochre/v1/system_pb.js";
import { Role } from "../gen/ochre/v1/access_pb.js";

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
