// POST /v1/responses through the official OpenAI client: string and item inputs, instructions,
// the stream helper (responses.stream → finalResponse, which rebuilds the Response from the
// events and throws on shapes it does not expect), usage with cached tokens, metering, function
// tools in and out of the input, and the errors of what is not served.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OpenAI, baseUrl, client, metrics, model, post } from "./common.mjs";

const messages = [{ role: "user", content: "Tell me about the sea." }];
const instructions = "You are a helpful assistant.";

function messageText(response) {
  const message = response.output.find((item) => item.type === "message");
  return message ? message.content.map((part) => part.text).join("") : "";
}

function reasoningText(response) {
  const reasoning = response.output.find((item) => item.type === "reasoning");
  return reasoning ? reasoning.content.map((part) => part.text).join("") : "";
}

test("responses.create with a string input: the Response object and its usage", async () => {
  const r = await client.responses.create({ model, input: "Hello there", max_output_tokens: 8, temperature: 0 });
  assert.equal(r.object, "response");
  assert.match(r.id, /^resp_/);
  assert.equal(r.model, model);
  assert.ok(["completed", "incomplete"].includes(r.status), r.status);
  assert.equal(typeof r.created_at, "number");
  assert.equal(r.error, null);
  assert.equal(r.max_output_tokens, 8);
  assert.equal(r.temperature, 0);
  assert.equal(r.instructions, null);
  assert.deepEqual(r.tools, []);
  assert.equal(r.text.format.type, "text");
  const message = r.output.find((item) => item.type === "message");
  assert.ok(message, JSON.stringify(r.output));
  assert.match(message.id, /^msg_/);
  assert.equal(message.role, "assistant");
  assert.equal(message.content[0].type, "output_text");
  assert.deepEqual(message.content[0].annotations, []);
  assert.equal(r.output_text, messageText(r));  // the SDK's own helper agrees
  assert.ok(r.usage.input_tokens > 3);
  assert.ok(r.usage.output_tokens >= 1 && r.usage.output_tokens <= 8);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.equal(typeof r.usage.input_tokens_details.cached_tokens, "number");
  assert.equal(typeof r.usage.output_tokens_details.reasoning_tokens, "number");
});

test("greedy /v1/responses equals /v1/chat/completions for the same messages", async () => {
  const chat = await client.chat.completions.create({
    model, messages: [{ role: "system", content: instructions }, ...messages],
    max_tokens: 12, temperature: 0, ignore_eos: true,
  });
  const r = await client.responses.create({
    model, instructions, input: messages, max_output_tokens: 12, temperature: 0, ignore_eos: true,
  });
  assert.equal(r.instructions, instructions);
  assert.equal(messageText(r), chat.choices[0].message.content ?? "");
  assert.equal(reasoningText(r), chat.choices[0].message.reasoning_content ?? "");
  assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(r.usage.output_tokens, 12);
  assert.equal(r.usage.output_tokens_details.reasoning_tokens,
               chat.usage.completion_tokens_details.reasoning_tokens);
  // Cut by max_output_tokens: incomplete, and the reason says why.
  assert.equal(r.status, "incomplete");
  assert.deepEqual(r.incomplete_details, { reason: "max_output_tokens" });
  // Message items with text parts give the same prompt.
  const parts = await client.responses.create({
    model, instructions, max_output_tokens: 12, temperature: 0, ignore_eos: true,
    input: [{ type: "message", role: "user", content: [{ type: "input_text", text: messages[0].content }] }],
  });
  assert.equal(messageText(parts), messageText(r));
});

test("responses.stream: typed events, and finalResponse equals the non-streamed answer", async () => {
  const body = { model, input: messages, max_output_tokens: 12, temperature: 0, ignore_eos: true };
  const whole = await client.responses.create(body);
  const stream = client.responses.stream(body);
  const events = [];
  let deltas = "";
  stream.on("event", (event) => events.push(event));
  stream.on("response.output_text.delta", (event) => { deltas += event.delta; });
  const final = await stream.finalResponse();
  assert.equal(events[0].type, "response.created");
  assert.equal(events[1].type, "response.in_progress");
  assert.equal(events.at(-1).type, "response.incomplete");
  events.forEach((event, i) => assert.equal(event.sequence_number, i, event.type));
  for (const type of ["response.output_item.added", "response.content_part.added",
    "response.output_text.done", "response.content_part.done", "response.output_item.done"]) {
    assert.ok(events.some((event) => event.type === type), `no ${type}`);
  }
  assert.equal(final.id, events[0].response.id);
  assert.equal(messageText(final), messageText(whole));
  assert.equal(deltas, messageText(whole));
  assert.equal(reasoningText(final), reasoningText(whole));
  // (SDK 4.104 rebuilds finalResponse from response.completed only: usage is in the last event.)
  const last = events.at(-1).response;
  assert.equal(last.status, "incomplete");
  assert.equal(last.usage.output_tokens, 12);
  assert.equal(last.usage.input_tokens, whole.usage.input_tokens);
  assert.deepEqual(last.output.map((item) => item.id), final.output.map((item) => item.id));
});

test("responses.stream of an answer that ends by itself: response.completed with usage", async () => {
  // The end-of-turn token forced first: a complete (empty) answer.
  const eos = await post("/tokenize", { prompt: "<|im_end|>", add_special_tokens: false });
  assert.equal(eos.json.tokens.length, 1, eos.text);
  const final = await client.responses.stream({
    model, input: messages, max_output_tokens: 8, logit_bias: { [eos.json.tokens[0]]: 100 },
  }).finalResponse();
  assert.equal(final.status, "completed");
  assert.equal(final.incomplete_details, null);
  assert.equal(messageText(final), "");
  assert.equal(final.usage.output_tokens, 1);
  assert.equal(final.usage.total_tokens, final.usage.input_tokens + 1);
});

test("the same prompt twice is served from the prefix cache, and metered like chat", async () => {
  const body = { model, input: "word ".repeat(200), max_output_tokens: 2, temperature: 0 };
  await client.responses.create(body);
  const again = await client.responses.create(body);
  assert.ok(again.usage.input_tokens_details.cached_tokens > 0, JSON.stringify(again.usage));
  // The ledger holds the record the client was told about (sent only once committed).
  const records = await (await fetch(`${baseUrl}/admin/usage/records`)).json();
  const record = records.data.find((entry) => entry.request_id === again.id);
  assert.ok(record, `no ledger record for ${again.id}`);
  assert.equal(record.status, "ok");
  assert.equal(record.prompt_tokens, again.usage.input_tokens);
  assert.equal(record.cached_tokens, again.usage.input_tokens_details.cached_tokens);
  assert.equal(record.completion_tokens, again.usage.output_tokens);
  const m = await metrics();
  assert.ok(m['mxserve_requests_total{route="/v1/responses",status="200"}'] >= 2);
});

test("function tools, calls and their outputs in the input", async () => {
  const tools = [{
    type: "function", name: "get_weather", description: "Weather of a city", strict: true,
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  }];
  const plain = await client.responses.create({ model, input: messages, max_output_tokens: 1 });
  const withTools = await client.responses.create({ model, input: messages, tools, max_output_tokens: 1 });
  assert.ok(withTools.usage.input_tokens > plain.usage.input_tokens + 10, "tools are in the prompt");
  assert.equal(withTools.tools[0].name, "get_weather");
  assert.equal(withTools.tool_choice, "auto");
  const turn = await client.responses.create({
    model, tools, tool_choice: "none", max_output_tokens: 4, parallel_tool_calls: false,
    input: [
      { role: "user", content: "Weather in Paris?" },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "call_1", output: "sunny, 21 C" },
    ],
  });
  assert.equal(turn.parallel_tool_calls, false);
  assert.ok(turn.usage.input_tokens > withTools.usage.input_tokens, "the call and its output are in the prompt");
  assert.ok(turn.output.some((item) => item.type === "message"));
});

test("reasoning.effort none turns the template's thinking off, as enable_thinking false", async () => {
  const body = { model, input: messages, max_output_tokens: 1 };
  const plain = await client.responses.create(body);
  const off = await client.responses.create({ ...body, reasoning: { effort: "none" } });
  const chatOff = await client.chat.completions.create({
    model, messages, max_tokens: 1, chat_template_kwargs: { enable_thinking: false },
  });
  assert.notEqual(off.usage.input_tokens, plain.usage.input_tokens);
  assert.equal(off.usage.input_tokens, chatOff.usage.prompt_tokens);
  assert.equal(off.reasoning.effort, "none");
});

test("what is not served is refused with 400 and the field", async () => {
  await assert.rejects(
    client.responses.create({ model, input: "x", previous_response_id: "resp_123" }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === "previous_response_id",
  );
  const cases = [
    [{ model, input: 5 }, "input"],
    [{ model }, "input"],
    [{ model, input: [{ role: "user", content: [{ type: "input_image", image_url: "http://x/y.png" }] }] },
      "input[0].content[0].type"],
    [{ model, input: [{ type: "item_reference", id: "msg_1" }] }, "input[0].type"],
    [{ model, input: "x", text: { format: { type: "json_schema", name: "x", schema: {} } } }, "text.format"],
    [{ model, input: "x", tools: [{ type: "web_search_preview" }] }, "tools[0].type"],
    [{ model, input: "x", max_output_tokens: 0 }, "max_output_tokens"],
  ];
  for (const [body, param] of cases) {
    const r = await post("/v1/responses", body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, param, r.text);
    assert.ok(r.json.error.message.length > 10);
  }
  const tooLong = await post("/v1/responses", { model, input: "word ".repeat(3000) });
  assert.equal(tooLong.status, 400);
  assert.equal(tooLong.json.error.param, "input");
  assert.equal((await post("/v1/responses", { model: "nope", input: "x" })).status, 404);
  // Nothing is stored, so nothing can be retrieved.
  assert.equal((await fetch(`${baseUrl}/v1/responses/resp_123`)).status, 404);
});
