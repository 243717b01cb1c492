// The HTTP transport as a raw socket sees it: a client that half-closes after its request still
// gets the whole generation; a request with ambiguous framing gets 400 and the connection
// closes, so bytes smuggled after it are never served; cumulative metrics are counters.
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";

import { baseUrl, metrics, model } from "./common.mjs";

const url = new URL(baseUrl);

// Writes `bytes`, then (if `halfClose`) shuts down the sending side at once; resolves with
// everything the server sent until it closed the connection.
function exchange(bytes, { halfClose = false, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const options = { port: Number(url.port), host: url.hostname, allowHalfOpen: true };
    const socket = net.connect(options, () => {
      socket.write(bytes);
      if (halfClose) socket.end();
    });
    const parts = [];
    socket.on("data", (d) => parts.push(d));
    socket.on("end", () => { socket.destroy(); resolve(Buffer.concat(parts).toString("latin1")); });
    socket.on("error", reject);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no end of the connection in ${timeoutMs} ms; got: ${Buffer.concat(parts)}`));
    });
  });
}

function completionRequest(body) {
  const json = JSON.stringify(body);
  return `POST /v1/completions HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

// Splits a raw answer into responses: [{status, head, body}], interim 1xx ones included.
function responses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    assert.ok(end > 0, `no end of head in: ${rest.slice(0, 200)}`);
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const status = Number(head.split(" ")[1]);
    let body = "";
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length) {
      body = rest.slice(0, Number(length[1]));
      rest = rest.slice(Number(length[1]));
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const line = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, line), 16);
        body += rest.slice(line + 2, line + 2 + size);
        rest = rest.slice(line + 2 + size + 2);
        if (size === 0) break;
      }
    }
    out.push({ status, head, body });
  }
  return out;
}

test("a client that half-closes after its request gets the whole completion", async () => {
  const raw = await exchange(
    completionRequest({ model, prompt: "Tell me about the sea.", max_tokens: 64, ignore_eos: true }),
    { halfClose: true },
  );
  assert.ok(raw.length > 0, "the server closed at the half-close (the generation was cancelled)");
  const final = responses(raw).filter((r) => r.status >= 200);
  assert.equal(final.length, 1, raw);
  assert.equal(final[0].status, 200, raw);
  const body = JSON.parse(final[0].body);
  assert.equal(body.usage.completion_tokens, 64);
  assert.equal(body.choices[0].finish_reason, "length");
});

test("a client that half-closes gets the whole stream", async () => {
  const raw = await exchange(
    completionRequest({ model, prompt: "Waves", max_tokens: 32, ignore_eos: true, stream: true }),
    { halfClose: true },
  );
  const final = responses(raw).filter((r) => r.status >= 200);
  assert.equal(final.length, 1, raw);
  assert.equal(final[0].status, 200, raw);
  const events = final[0].body.split("\n\n").filter((e) => e.startsWith("data: "));
  assert.equal(events.at(-1), "data: [DONE]");
  const tokens = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))
    .filter((e) => e.choices.length > 0 && e.choices[0].text !== "").length;
  assert.ok(tokens >= 1, final[0].body);
  assert.equal(JSON.parse(events.at(-2).slice(6)).choices[0].finish_reason, "length");
});

test("ambiguous framing gets 400 and close; the smuggled request is not served", async () => {
  const smuggled = `GET /v1/models HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`;
  for (const fields of [
    "Transfer-Encoding: chunked, gzip\r\n",
    "Transfer-Encoding: gzip\r\nContent-Length: 0\r\n",
    "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
    `Content-Length: 0\r\nContent-Length: ${smuggled.length}\r\n`,
    "X-Folded: a\r\n b\r\nContent-Length: 0\r\n",
  ]) {
    const raw = await exchange(
      `POST /v1/completions HTTP/1.1\r\nHost: ${url.host}\r\n${fields}\r\n${smuggled}`,
      { timeoutMs: 10000 },
    );
    const all = responses(raw);
    assert.equal(all.length, 1, `a second response after:\n${fields}\n${raw}`);
    assert.equal(all[0].status, 400, raw);
    assert.match(all[0].head, /\r\nConnection: close/i);
    assert.equal(typeof JSON.parse(all[0].body).error.message, "string");
  }
});

test("cumulative metrics are counters named _total; gauges are values now", async () => {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const types = new Map();
  for (const line of text.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) types.set(m[1], m[2]);
  }
  for (const name of ["mxserve_prefix_cache_queries_total", "mxserve_prefix_cache_hits_total",
    "mxserve_engine_steps_total", "mxserve_preemptions_total"]) {
    assert.equal(types.get(name), "counter", name);
  }
  for (const old of ["mxserve_prefix_cache_queries", "mxserve_prefix_cache_hits",
    "mxserve_engine_steps", "mxserve_preemptions"]) {
    assert.equal(types.get(old), undefined, `${old} is still exported`);
  }
  for (const [name, type] of types) {
    if (type === "counter") assert.match(name, /_total$/, name);
  }
  const m = await metrics();
  assert.ok(m.mxserve_engine_steps_total > 0);
  assert.ok(m.mxserve_prefix_cache_queries_total >= m.mxserve_prefix_cache_hits_total);
});
