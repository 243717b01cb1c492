// Generation through the official OpenAI client: chat and text completions, streamed and not,
// greedy determinism, seeds, n, stop strings, logprobs, usage.
import assert from "node:assert/strict";
import { test } from "node:test";

import { client, model, post } from "./common.mjs";

const messages = [{ role: "user", content: "Tell me about the sea." }];

test("models lists the served model", async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].id, model);
  assert.equal(list.data[0].object, "model");
});

test("chat completion: message, finish reason and usage", async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
  assert.equal(r.object, "chat.completion");
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 5);
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, "number");
  assert.equal(typeof r.usage.completion_tokens_details.reasoning_tokens, "number");
});

test("streamed chat equals the non-streamed greedy answer, with a usage chunk", async () => {
  const body = { model, messages, max_tokens: 12, temperature: 0, ignore_eos: true };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({
    ...body, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let reasoning = "";
  let finish = null;
  let usage = null;
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) role = choice.delta.role;
      text += choice.delta.content ?? "";
      reasoning += choice.delta.reasoning_content ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(role, "assistant");
  assert.equal(text, whole.choices[0].message.content ?? "");
  assert.equal(reasoning, whole.choices[0].message.reasoning_content ?? "");
  assert.equal(finish, "length");
  assert.equal(usage.completion_tokens, 12);
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
});

test("text completion from a string and from token ids agree", async () => {
  const tok = await post("/tokenize", { prompt: "The quick brown fox", add_special_tokens: false });
  assert.equal(tok.status, 200);
  const a = await client.completions.create({ model, prompt: "The quick brown fox", max_tokens: 10, temperature: 0 });
  const b = await client.completions.create({ model, prompt: tok.json.tokens, max_tokens: 10, temperature: 0 });
  assert.equal(a.object, "text_completion");
  assert.equal(a.choices[0].text, b.choices[0].text);
  assert.equal(a.usage.prompt_tokens, tok.json.tokens.length);
});

test("the same seed gives the same text; n gives n choices", async () => {
  const body = { model, messages, max_tokens: 10, temperature: 1.0, seed: 1234, n: 3 };
  const a = await client.chat.completions.create(body);
  const b = await client.chat.completions.create(body);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.index).sort(), [0, 1, 2]);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
  assert.ok(a.usage.completion_tokens >= 3);
});

test("stop strings cut the text across token boundaries and are not returned", async () => {
  const body = { model, prompt: "Once upon a time", max_tokens: 24, temperature: 0, ignore_eos: true };
  const whole = (await client.completions.create(body)).choices[0].text;
  assert.ok(whole.length > 12, `need some text, got ${JSON.stringify(whole)}`);
  // A stop string that starts inside the text and spans several characters.
  const start = Math.floor(whole.length / 2);
  const stop = whole.slice(start, start + 3);
  const expected = whole.slice(0, whole.indexOf(stop));
  const cut = await client.completions.create({ ...body, stop: [stop] });
  assert.equal(cut.choices[0].text, expected);
  assert.equal(cut.choices[0].finish_reason, "stop");
  // Streamed: the same cut, the stop string never sent.
  const stream = await client.completions.create({ ...body, stop: stop, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.equal(text, expected);
});

test("logprobs: chat top_logprobs and completions logprobs", async () => {
  const chat = await client.chat.completions.create({
    model, messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, chat.usage.completion_tokens);
  for (const entry of content) {
    assert.equal(entry.top_logprobs.length, 3);
    assert.ok(entry.logprob <= 0);
    // Greedy: the chosen token is the most likely one.
    assert.equal(entry.logprob, entry.top_logprobs[0].logprob);
  }
  const text = await client.completions.create({ model, prompt: "Hello", max_tokens: 3, temperature: 0, logprobs: 2 });
  const lp = text.choices[0].logprobs;
  assert.equal(lp.tokens.length, 3);
  assert.equal(lp.token_logprobs.length, 3);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
});

test("a repeated prompt is served from the prefix cache", async () => {
  const long = "word ".repeat(200);
  const body = { model, prompt: long, max_tokens: 2, temperature: 0 };
  await client.completions.create(body);
  const again = await client.completions.create(body);
  assert.ok(again.usage.prompt_tokens_details?.cached_tokens >= 128,
            JSON.stringify(again.usage));
});

test("tokenize and detokenize round-trip; chat tokenize renders the template", async () => {
  const tok = await post("/tokenize", { prompt: "Hello, world!" });
  assert.equal(tok.status, 200);
  assert.equal(tok.json.count, tok.json.tokens.length);
  const detok = await post("/detokenize", { tokens: tok.json.tokens });
  assert.equal(detok.status, 200);
  assert.equal(detok.json.prompt, "Hello, world!");
  const plain = await post("/tokenize", { model, messages });
  const withTools = await post("/tokenize", {
    model, messages,
    tools: [{ type: "function", function: { name: "get_weather", description: "Weather of a city",
      parameters: { type: "object", properties: { city: { type: "string" } } } } }],
  });
  assert.equal(plain.status, 200);
  assert.ok(withTools.json.count > plain.json.count + 10, "tools are rendered into the prompt");
});
