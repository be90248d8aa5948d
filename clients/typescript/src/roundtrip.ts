// A round trip through every operation against a running server, proving a
// second language's generator accepts the spec and the server answers it.
// Usage: CONNVAULT_URL=http://... CONNVAULT_API_KEY=sk_... node dist/roundtrip.js
import { connvault, type CreateConnection } from "./index.js";

function must<T>(what: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${what}: HTTP ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const baseUrl = process.env.CONNVAULT_URL;
const apiKey = process.env.CONNVAULT_API_KEY;
const feedUrl = process.env.CONNVAULT_FEED_URL;
if (!baseUrl || !apiKey || !feedUrl) {
  throw new Error("set CONNVAULT_URL, CONNVAULT_API_KEY and CONNVAULT_FEED_URL");
}
const api = connvault(baseUrl, apiKey);
const name = `ts-roundtrip-${Date.now()}`;

const body: CreateConnection = {
  name,
  provider_type: "rss",
  provider_config: { feed_url: feedUrl, request_timeout: 10 },
  metadata: { client: "typescript" },
};
const created = must("create", await api.POST("/v1/organizations/connections", { body }));
const id = created.connection_id;

const got = must("get", await api.GET("/v1/organizations/connections/{connection_identifier}", {
  params: { path: { connection_identifier: name } },
}));
if (got.connection_id !== id) throw new Error("get by name found another connection");

const listed = must("list", await api.POST("/v1/organizations/connections/list", {
  params: { query: { limit: 10 } },
  body: { provider_type: "rss", search: name },
}));
// total is a number in every answer, asked for or not; next_page a link or null.
const total: number = listed.total;
if (listed.results.length !== 1 || total !== 1 || listed.pagination.total !== 1 || listed.pagination.next_page !== null) {
  throw new Error("list did not find it once");
}

const patched = must("patch", await api.PATCH("/v1/organizations/connections/{connection_identifier}", {
  params: { path: { connection_identifier: id } },
  body: { description: "patched from TypeScript", status: "SUSPENDED" },
}));
if (patched.status !== "SUSPENDED" || patched.is_active) throw new Error("patch did not suspend");

const tested = must("test", await api.POST("/v1/organizations/connections/{connection_identifier}/test", {
  params: { path: { connection_identifier: id } },
}));
if (!tested.success) throw new Error(`test failed: ${tested.message}`);

const archived = must("delete", await api.DELETE("/v1/organizations/connections/{connection_identifier}", {
  params: { path: { connection_identifier: id } },
}));
if (archived.status !== "ARCHIVED") throw new Error("delete did not archive");

const missing = await api.GET("/v1/organizations/connections/{connection_identifier}", {
  params: { path: { connection_identifier: name } },
});
if (missing.response.status !== 404 || missing.error?.error.type !== "NotFoundError") {
  throw new Error("an archived name still resolves");
}
console.log(`typescript round trip ok: create, get, list, patch, test, delete on ${id}`);
