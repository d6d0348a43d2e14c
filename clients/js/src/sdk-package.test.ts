// The browser SDK's nodejs package (target/pkg/node, built by scripts/build-sdk.sh) from
// TypeScript: `tsc` checks this file against the .d.ts that wasm-bindgen and tsify generated,
// then it calls the running server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import type * as Sdk from "../../../target/pkg/node/cyberhub_wasm.js";

const require = createRequire(import.meta.url);
const sdk: typeof Sdk = require(process.env.CYBERHUB_SDK_NODE ?? "../../../target/pkg/node/cyberhub_wasm.js");

const server = process.env.CYBERHUB_TEST_HTTP;
if (!server) throw new Error("CYBERHUB_TEST_HTTP (the server to call) is not set");

test("the nodejs package is typed and talks to the server", async () => {
  const api = new sdk.CyberHub(server);
  const request: Sdk.SignupRequest = {
    email: `node-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.org`,
    password: "node-package-2026",
    first_name: "Node",
    last_name: "Package",
  };
  const auth: Sdk.AuthResponse = await api.signup(request);
  assert.equal(auth.user.email, request.email);
  assert.equal(api.isSignedIn, true);

  const page: Sdk.ContentList = await api.listContent({ content_type: "lab", page_size: 2 });
  const lab: Sdk.ContentItem | undefined = page.results[0];
  assert.ok(lab);
  assert.equal(lab.content_type, "lab");

  const progress: Sdk.Progress = await api.createProgress({
    content_id: lab.content_id,
    content_type: lab.content_type,
    status: "completed",
    score: 81,
  });
  assert.equal(progress.status, "completed");

  await assert.rejects(api.getProgress("00000000-0000-4000-8000-000000000000"), (e: Sdk.ApiError) => {
    assert.equal(e.name, "ApiError");
    assert.equal(e.status, 404);
    assert.ok(e.detail.length > 0);
    return true;
  });

  const recs: Sdk.RecommendationResponse = await api.recommendationsOf(auth.user.id, { limit: 3 });
  assert.ok(recs.recommendations.every((r) => r.content_id !== lab.content_id));
  await api.logout();
  assert.equal(api.isSignedIn, false);
});
