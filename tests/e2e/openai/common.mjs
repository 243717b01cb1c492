// Shared by the e2e API tests: the OpenAI client pointed at the server under test, and raw
// HTTP helpers for what the SDK does not expose (status codes of malformed bodies, /metrics).
import path from "node:path";

const modules = process.env.MX_TEST_NODE_MODULES;
const { default: OpenAI } = await import(path.join(modules, "openai/index.mjs"));

export const baseUrl = process.env.MX_BASE_URL;
export const model = "tiny-qwen3";
export const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "unused", maxRetries: 0 });
export { OpenAI };

export async function post(route, body, headers = {}) {
  const response = await fetch(`${baseUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, text, json };
}

export async function metrics() {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const values = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return values;
}

// Polls until fn() is truthy (or throws after timeoutMs).
export async function eventually(fn, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
