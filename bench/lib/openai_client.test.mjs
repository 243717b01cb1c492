// Tests of the serving benchmark client without a model: node --test bench/lib/
// A fake OpenAI server (node:http) streams SSE split at awkward byte boundaries, closes
// keep-alive connections after each response like llama-server, and fails on demand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  parseDistribution, PromptFactory, makeRng, percentile, summarize, streamCompletion,
  completionBody, makeAgent,
} from './openai_client.mjs';

test('distributions stay in range and are reproducible', () => {
  const rng = makeRng(7);
  const u = parseDistribution('uniform:10-20', 'x');
  const n = parseDistribution('normal:100,30,50,120', 'x');
  for (let i = 0; i < 1000; i++) {
    const a = u.sample(rng), b = n.sample(rng);
    assert.ok(a >= 10 && a <= 20 && Number.isInteger(a));
    assert.ok(b >= 50 && b <= 120 && Number.isInteger(b));
  }
  assert.equal(parseDistribution('64', 'x').sample(rng), 64);
  assert.throws(() => parseDistribution('uniform:20-10', 'x'), /uniform/);
  assert.throws(() => parseDistribution('0', 'x'));
  assert.equal(makeRng(3)(), makeRng(3)());
});

test('prompts have the exact length and share the prefix', () => {
  const f = new PromptFactory({ seed: 1, tokenMin: 1000, tokenMax: 30000,
                                sharedPrefixFraction: 0.9, maxPromptTokens: 2048 });
  const d = parseDistribution('2048', 'p'), o = parseDistribution('16', 'o');
  const a = f.make('s', 0, d, o), b = f.make('s', 1, d, o), a2 = f.make('s', 0, d, o);
  assert.equal(a.ids.length, 2048);
  assert.equal(a.sharedTokens, 1843);
  assert.deepEqual(a.ids.slice(0, 1843), b.ids.slice(0, 1843));
  assert.notDeepEqual(a.ids.slice(1843), b.ids.slice(1843));
  assert.deepEqual(a.ids, a2.ids);
  assert.notDeepEqual(f.make('other', 0, d, o).ids.slice(1843), a.ids.slice(1843));
  assert.ok(a.ids.every((id) => id >= 1000 && id <= 30000));
});

test('percentiles interpolate', () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([5], 99), 5);
  const s = summarize([3, null, 1, 2]);
  assert.equal(s.n, 3);
  assert.equal(s.p50, 2);
  assert.equal(s.max, 3);
});

function fakeServer(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('SSE stream split at odd places: TTFT, token chunks, usage', async () => {
  const server = await fakeServer(async (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const events = [];
    for (let i = 0; i < 5; i++) {
      events.push(`data: ${JSON.stringify({ choices: [{ text: `é${i}`, finish_reason: null }] })}\r\n\r\n`);
    }
    events.push(`data: ${JSON.stringify({ choices: [{ text: '', finish_reason: 'length' }] })}\n\n`);
    events.push(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 5 } })}\n\n`);
    events.push('data: [DONE]\n\n');
    const all = Buffer.from(events.join(''));
    for (let i = 0; i < all.length; i += 7) {  // 7-byte pieces split the UTF-8 of "é" too
      res.write(all.subarray(i, i + 7));
      if (i === 0) await sleep(30);
    }
    res.end();
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const r = await streamCompletion(url, completionBody({ ids: [1, 2, 3, 4], outputTokens: 5 }), {});
  server.close();
  assert.equal(r.ok, true, r.error);
  assert.equal(r.chunk_tokens, 5);
  assert.equal(r.output_tokens, 5);
  assert.equal(r.prompt_tokens, 4);
  assert.equal(r.finish_reason, 'length');
  assert.ok(r.ttft_ms >= 25 && r.e2e_ms >= r.ttft_ms);
});

test('errors: HTTP status, error event, stream cut short', async () => {
  let n = 0;
  const server = await fakeServer((req, res) => {
    n++;
    if (n === 1) { res.writeHead(400, { 'content-type': 'application/json' }); res.end('{"error":"bad"}'); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (n === 2) { res.end('data: {"error":{"message":"boom"}}\n\n'); return; }
    res.end(`data: ${JSON.stringify({ choices: [{ text: 'a', finish_reason: null }] })}\n\n`);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const body = completionBody({ ids: [1], outputTokens: 2 });
  const a = await streamCompletion(url, body, {});
  const b = await streamCompletion(url, body, {});
  const c = await streamCompletion(url, body, {});
  server.close();
  assert.match(a.error, /HTTP 400/);
  assert.match(b.error, /boom/);
  assert.match(c.error, /without a finish_reason/);
  assert.equal(c.chunk_tokens, 1);
});

test('a pooled connection closed by the server is resent on a new one', async () => {
  // A keep-alive socket that has served one request is dropped without an answer when the next
  // request arrives on it: what the client sees when the server closed it while it was idle.
  const served = new WeakSet();
  let answered = 0;
  const server = await fakeServer((req, res) => {
    if (served.has(req.socket)) { req.socket.destroy(); return; }
    served.add(req.socket);
    answered++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify({ choices: [{ text: 'x', finish_reason: 'length' }] })}\n\ndata: [DONE]\n\n`);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const agent = makeAgent(url, 1);
  const body = completionBody({ ids: [1], outputTokens: 1 });
  const results = [];
  for (let i = 0; i < 4; i++) results.push(await streamCompletion(url, body, { agent }));
  agent.destroy();
  server.close();
  for (const r of results) assert.equal(r.ok, true, r.error);
  // 1: new socket A; 2: reuses A, dropped, resent; 3: new socket B; 4: reuses B, resent.
  assert.deepEqual(results.map((r) => Boolean(r.retried)), [false, true, false, true]);
  assert.equal(answered, 4);
});
