#!/usr/bin/env node
// A stand-in OpenAI-compatible server for trying the serving tools without a model: GET /health,
// GET /v1/models, POST /tokenize, POST /v1/completions (stream or not). At most --max-seqs
// requests "generate" at a time (one token every --token-ms, after --prefill-ms per 100 prompt
// tokens); the rest wait in a FIFO queue with their response head already sent, as mxserve
// does. Not a benchmark of anything.
//   node bench/lib/fake_openai_server.mjs --port 8099 --max-seqs 16 --token-ms 20

import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8099' },
    'max-seqs': { type: 'string', default: '16' },
    'token-ms': { type: 'string', default: '20' },
    'prefill-ms': { type: 'string', default: '10' },
  },
});
const maxSeqs = Number(values['max-seqs']);
const tokenMs = Number(values['token-ms']);
const prefillMs = Number(values['prefill-ms']);

let running = 0;
const queue = [];
const acquire = () => new Promise((resolve) => {
  if (running < maxSeqs) { running++; resolve(); } else queue.push(resolve);
});
const release = () => {
  const next = queue.shift();
  if (next) next(); else running--;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function completion(req, res, body) {
  const ids = Array.isArray(body.prompt) ? body.prompt : String(body.prompt ?? '').split(/\s+/);
  const maxTokens = body.max_tokens ?? 16;
  let closed = false;
  res.on('close', () => { closed = true; });
  if (body.stream) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  await acquire();
  try {
    await sleep(prefillMs * Math.ceil(ids.length / 100));
    const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    for (let i = 0; i < maxTokens && !closed; i++) {
      await sleep(tokenMs);
      if (body.stream) send({ object: 'text_completion', choices: [{ index: 0, text: ` t${i}`, finish_reason: null }] });
    }
    if (closed) return;
    const usage = { prompt_tokens: ids.length, completion_tokens: maxTokens,
                    total_tokens: ids.length + maxTokens, prompt_tokens_details: { cached_tokens: 0 } };
    if (body.stream) {
      send({ choices: [{ index: 0, text: '', finish_reason: 'length' }] });
      if (body.stream_options?.include_usage) send({ choices: [], usage });
      res.end('data: [DONE]\n\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, text: 'x', finish_reason: 'length' }], usage }));
    }
  } finally {
    release();
  }
}

const server = http.createServer((req, res) => {
  let data = '';
  req.on('data', (d) => { data += d; });
  req.on('end', () => {
    const json = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (req.url === '/health') return json(200, { status: 'ok' });
    if (req.url === '/v1/models') return json(200, { object: 'list', data: [{ id: 'fake', object: 'model' }] });
    let body;
    try { body = JSON.parse(data || '{}'); } catch { return json(400, { error: { message: 'bad JSON' } }); }
    if (req.url === '/tokenize') return json(200, { tokens: String(body.content ?? '').split(/\s+/).map((_, i) => i) });
    if (req.url === '/v1/completions' && req.method === 'POST') return void completion(req, res, body);
    return json(404, { error: { message: `no route ${req.method} ${req.url}` } });
  });
});
server.keepAliveTimeout = 600000;
server.headersTimeout = 610000;
server.requestTimeout = 0;
server.maxConnections = 100000;
server.listen(Number(values.port), '127.0.0.1', () => console.error(`fake OpenAI server on :${values.port}, max-seqs ${maxSeqs}`));
