// Calls the running server through TypeScript types that openapi-typescript generated from
// the committed docs/openapi.json (generated/schema.d.ts) and openapi-fetch. `tsc` checks
// every request and response against those types before this runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "../generated/schema.js";

type Schemas = components["schemas"];

const server = process.env.CYBERHUB_TEST_HTTP;
if (!server) throw new Error("CYBERHUB_TEST_HTTP (the server to call) is not set");

function client(token?: string) {
  const api = createClient<paths>({ baseUrl: `${server}/api/v1` });
  if (token) {
    const auth: Middleware = {
      onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    api.use(auth);
  }
  return api;
}

async function signUp(): Promise<Schemas["AuthResponse"]> {
  const body: Schemas["SignupRequest"] = {
    email: `ts-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.org`,
    password: "typescript-client-2026",
    first_name: "Grace",
    last_name: "Types",
  };
  const { data, error, response } = await client().POST("/auth/signup", { body });
  assert.equal(response.status, 201, JSON.stringify(error));
  assert.ok(data);
  return data;
}

test("accounts, catalog and progress through the generated types", async () => {
  const auth = await signUp();
  const api = client(auth.access_token);

  const me = await api.GET("/auth/me");
  assert.equal(me.data?.user.email, auth.user.email);

  const again = await client().POST("/auth/signup", {
    body: { email: auth.user.email, password: "typescript-client-2026", first_name: "G", last_name: "T" },
  });
  assert.equal(again.response.status, 409);
  assert.match(again.error?.detail ?? "", /./);

  const catalog = await api.GET("/content", { params: { query: { track: "defender", page_size: 3 } } });
  assert.equal(catalog.response.status, 200);
  const item = catalog.data?.results[0];
  assert.ok(item, "the seeded catalog has defender items");
  assert.equal(item.track, "defender");

  const started = await api.POST("/progress", {
    body: { content_id: item.content_id, content_type: item.content_type, completion_percentage: 30 },
  });
  assert.equal(started.response.status, 201, JSON.stringify(started.error));
  const id = started.data?.id;
  assert.ok(id);
  const done = await api.PATCH("/progress/{id}", {
    params: { path: { id } },
    body: { status: "completed", score: 75 },
  });
  assert.equal(done.data?.status, "completed");
  assert.equal(done.data?.score, 75);

  const bad = await api.PATCH("/progress/{id}", { params: { path: { id } }, body: { completion_percentage: 250 } });
  assert.equal(bad.response.status, 400);
  assert.ok(bad.error?.detail);

  const unauthenticated = await client().GET("/auth/me");
  assert.equal(unauthenticated.response.status, 401);
});

test("search, recommendations and the questionnaire through the generated types", async () => {
  const auth = await signUp();
  const api = client(auth.access_token);

  const found = await api.POST("/search", { body: { query: "incident response playbooks", limit: 3 } });
  assert.equal(found.response.status, 200, JSON.stringify(found.error));
  assert.equal(found.data?.results.length, 3);

  const recs = await api.GET("/recommendations/{user_id}", {
    params: { path: { user_id: auth.user.id }, query: { limit: 4 } },
  });
  assert.equal(recs.data?.cold_start, true);
  assert.equal(recs.data?.recommendations.length, 4);
  for (const r of recs.data?.recommendations ?? []) assert.ok(r.reason.length > 0);

  const q = await client().GET("/personality/questionnaire");
  assert.ok((q.data?.questions.length ?? 0) >= 15);
});
