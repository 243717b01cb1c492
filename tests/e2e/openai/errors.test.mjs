// Bad input gets an OpenAI-shaped error with the right status and a message that says what to
// fix; a client that disconnects mid-stream frees its sequence; the server keeps serving.
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";

import { OpenAI, baseUrl, client, eventually, metrics, model, post } from "./common.mjs";

const messages = [{ role: "user", content: "Hi" }];

function assertApiError(r, status, param) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 10);
  assert.equal(typeof r.json.error.type, "string");
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

test("SDK surfaces 400 with param for an out-of-range value", async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages, temperature: 3.5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /temperature/.test(e.message),
  );
});

test("wrong types, malformed JSON, unknown model, missing fields", async () => {
  assertApiError(await post("/v1/chat/completions", "{not json"), 400);
  assertApiError(await post("/v1/chat/completions", { model, messages: "hi" }), 400, "messages");
  assertApiError(await post("/v1/chat/completions", { model, messages, max_tokens: 0 }), 400, "max_tokens");
  assertApiError(await post("/v1/chat/completions", { model, messages, n: "two" }), 400, "n");
  assertApiError(await post("/v1/completions", { model }), 400, "prompt");
  assertApiError(await post("/v1/completions", { model, prompt: [1, 2, -5] }), 400, "prompt");
  assertApiError(await post("/v1/completions", { model, prompt: "x", logit_bias: { "99999999": 1 } }), 400, "logit_bias");
  assertApiError(await post("/v1/chat/completions", { model: "no-such-model", messages }), 404);
  assertApiError(await post("/v1/chat/completion", { model, messages }), 404);
  const wrongMethod = await fetch(`${baseUrl}/v1/chat/completions`);
  assert.equal(wrongMethod.status, 405);
});

test("a prompt longer than the context is refused with 400", async () => {
  const r = await post("/v1/completions", { model, prompt: "word ".repeat(3000), max_tokens: 4 });
  assertApiError(r, 400);
  assert.match(r.json.error.message, /context/);
});

test("a body over the limit is refused with 413", async () => {
  const r = await post("/v1/completions", { model, prompt: "x".repeat(9 << 20) });
  assert.equal(r.status, 413);
});

test("a client that disconnects mid-stream cancels its sequence", async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model, messages, max_tokens: 900, ignore_eos: true, stream: true },
    { signal: controller.signal },
  );
  let chunks = 0;
  try {
    for await (const _ of stream) {
      if (++chunks === 3) controller.abort();
    }
  } catch { /* aborted */ }
  await eventually(async () => {
    const m = await metrics();
    return m.mxserve_sequences_running === 0 && m.mxserve_kv_blocks_used === 0;
  });
});

test("garbage on the socket gets 400 and the server keeps serving", async () => {
  const url = new URL(baseUrl);
  const reply = await new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write("THIS IS NOT HTTP\r\n\r\n");
    });
    let data = "";
    socket.on("data", (d) => { data += d; });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
    setTimeout(() => { socket.destroy(); resolve(data); }, 3000);
  });
  assert.match(reply, /^HTTP\/1\.[01] 400/);
  const ok = await client.completions.create({ model, prompt: "still alive", max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

test("metrics expose request, latency, KV and token families", async () => {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  for (const family of [
    "mxserve_requests_total", "mxserve_time_to_first_token_seconds_bucket",
    "mxserve_time_per_output_token_seconds_bucket", "mxserve_request_duration_seconds_bucket",
    "mxserve_sequences_waiting", "mxserve_sequences_running", "mxserve_kv_blocks_used",
    "mxserve_kv_blocks_free", "mxserve_prefix_cache_hit_rate", "mxserve_prompt_tokens_total",
    "mxserve_cached_prompt_tokens_total", "mxserve_generated_tokens_total",
  ]) {
    assert.ok(text.includes(family), `missing ${family}`);
  }
  const m = await metrics();
  assert.ok(m.mxserve_generated_tokens_total > 0);
  assert.ok(m['mxserve_requests_total{route="/v1/chat/completions",status="400"}'] >= 1);
});

test("health answers ok", async () => {
  const r = await fetch(`${baseUrl}/health`);
  assert.equal(r.status, 200);
});
