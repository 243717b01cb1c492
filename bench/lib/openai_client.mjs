// Shared pieces of the serving benchmarks (bench/loadgen.mjs, bench/idle_connections.mjs):
// a streaming /v1/completions client over node:http (keep-alive agents, SSE parsing), seeded
// random numbers, length distributions, token-id prompts, percentiles and machine facts.
// Node 20, no npm dependencies.

import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import fs from 'node:fs';

// ---------------------------------------------------------------------------------------------
// Seeded random numbers (mulberry32 on a 32-bit state; seeds mixed with a string hash so that
// (seed, level, request) triples give independent streams).

export function hashSeed(...parts) {
  let h = 2166136261 >>> 0;  // FNV-1a over the decimal parts
  for (const ch of parts.join('/')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

export function makeRng(seed) {
  let state = seed >>> 0;
  return function next() {  // uniform in [0, 1)
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Length distributions: "128" (fixed), "uniform:A-B" (inclusive), "normal:MEAN,SD[,MIN,MAX]"
// (rounded, clipped to [MIN, MAX]; defaults MIN 1, MAX MEAN + 4 SD).

export function parseDistribution(spec, what) {
  const fail = () => {
    throw new Error(`${what}: expected N, uniform:A-B or normal:MEAN,SD[,MIN,MAX], got "${spec}"`);
  };
  const s = String(spec).trim();
  let m;
  if ((m = /^(\d+)$/.exec(s))) {
    const n = Number(m[1]);
    if (n < 1) fail();
    return { kind: 'fixed', value: n, sample: () => n, max: n, spec: s };
  }
  if ((m = /^uniform:(\d+)-(\d+)$/.exec(s))) {
    const a = Number(m[1]), b = Number(m[2]);
    if (a < 1 || b < a) fail();
    return { kind: 'uniform', min: a, max: b, spec: s,
             sample: (rng) => a + Math.floor(rng() * (b - a + 1)) };
  }
  if ((m = /^normal:([\d.]+),([\d.]+)(?:,(\d+),(\d+))?$/.exec(s))) {
    const mean = Number(m[1]), sd = Number(m[2]);
    const lo = m[3] !== undefined ? Number(m[3]) : 1;
    const hi = m[4] !== undefined ? Number(m[4]) : Math.ceil(mean + 4 * sd);
    if (lo < 1 || hi < lo) fail();
    return {
      kind: 'normal', mean, sd, min: lo, max: hi, spec: s,
      sample: (rng) => {  // Box-Muller
        const u = Math.max(rng(), 1e-12), v = rng();
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        return Math.min(hi, Math.max(lo, Math.round(mean + sd * z)));
      },
    };
  }
  fail();
}

// ---------------------------------------------------------------------------------------------
// Prompts are arrays of token ids, accepted as `prompt` by both mxserve's and llama-server's
// /v1/completions. Why ids and not text: the prompt length in tokens is then exact without a
// tokenizer on the client (text would need a /tokenize calibration per model, and random text
// tokenizes to unpredictable lengths), the two servers see identical token sequences, and a
// shared prefix is a shared prefix of tokens, which is what a prefix cache keys on. The ids are
// drawn uniformly from a range of ordinary vocabulary entries (default 1000-30000: below every
// special/control token of the Qwen, Llama-3 and DeepSeek vocabularies, above the byte tokens).

export class PromptFactory {
  // sharedPrefixFraction F: the first round(F * len) tokens of every prompt are the first tokens
  // of one fixed sequence (made from the seed); the rest are unique to the request.
  constructor({ seed, tokenMin, tokenMax, sharedPrefixFraction, maxPromptTokens }) {
    this.seed = seed;
    this.tokenMin = tokenMin;
    this.span = tokenMax - tokenMin + 1;
    this.fraction = sharedPrefixFraction;
    const rng = makeRng(hashSeed(seed, 'shared-prefix'));
    this.shared = Array.from({ length: Math.ceil(maxPromptTokens * sharedPrefixFraction) },
                             () => this.tokenMin + Math.floor(rng() * this.span));
  }

  // Deterministic in (seed, stream, index): the same run settings give the same prompts to
  // every server. `stream` separates warm-up and each concurrency level, so a later level does
  // not replay (and prefix-cache hit) an earlier level's prompts.
  make(stream, index, promptDist, outputDist) {
    const rng = makeRng(hashSeed(this.seed, stream, index));
    const promptTokens = promptDist.sample(rng);
    const outputTokens = outputDist.sample(rng);
    const sharedLen = Math.min(this.shared.length, Math.round(promptTokens * this.fraction));
    const ids = this.shared.slice(0, sharedLen);
    while (ids.length < promptTokens) ids.push(this.tokenMin + Math.floor(rng() * this.span));
    return { ids, promptTokens, outputTokens, sharedTokens: sharedLen };
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export function makeAgent(url, maxSockets) {
  const mod = new URL(url).protocol === 'https:' ? https : http;
  return new mod.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

function transportFor(url) {
  return new URL(url).protocol === 'https:' ? https : http;
}

// Plain JSON request (GET when body is undefined). Resolves {status, json, text}; never rejects
// on HTTP status, rejects on network errors and timeouts.
export function requestJson(url, { method, body, agent, timeoutMs = 10000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = transportFor(url).request(url, {
      method: method ?? (payload ? 'POST' : 'GET'), agent,
      headers: { ...(payload ? { 'content-type': 'application/json',
                                 'content-length': Buffer.byteLength(payload) } : {}),
                 ...headers },
    }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, json, text });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

// One streaming completion. Times are milliseconds from the moment the request was written.
//   ttft_ms: first SSE chunk that carries a generated token (a choice that is not the final
//            finish-only chunk: finish_reason null, or non-empty text);
//   output_tokens: usage.completion_tokens when the server sent usage, else the token chunks;
//   max_gap_ms: the longest wait between two token chunks (stalls).
// Never rejects: failures come back as {ok: false, error}.
//
// A keep-alive socket that the server closed while idle (llama-server closes the connection
// after every streamed response) fails the next request with ECONNRESET / "socket hang up"
// before any response; such a request is sent again once on a new connection (Node's documented
// `req.reusedSocket` pattern), timed from the second send.
export async function streamCompletion(baseUrl, body, options = {}) {
  const first = await streamCompletionOnce(baseUrl, body, options);
  if (first.ok || !first.retryable) return first;
  // On a new connection: the pool may hold more sockets that the server has closed.
  const second = await streamCompletionOnce(baseUrl, body, { ...options, agent: false });
  second.retried = true;
  return second;
}

function streamCompletionOnce(baseUrl, body, { agent, timeoutMs = 600000, headers = {},
                                               onChunk, onResponse, signal } = {}) {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const t0 = performance.now();
    const result = { ok: false, ttft_ms: null, e2e_ms: null, output_tokens: null,
                     chunk_tokens: 0, prompt_tokens: null, cached_tokens: null,
                     finish_reason: null, max_gap_ms: 0, error: null, status: null,
                     headers_ms: null };
    let lastChunk = null, done = false, buffer = '', sawDone = false, req;
    const finish = (error) => {
      if (done) return;
      done = true;
      result.e2e_ms = performance.now() - t0;
      if (!error && !sawDone && result.finish_reason === null) error = 'stream ended without a finish_reason or [DONE]';
      if (error) result.error = String(error);
      result.ok = !error;
      if (result.output_tokens === null) result.output_tokens = result.chunk_tokens;
      resolve(result);
    };
    const handleEvent = (data) => {
      if (data === '[DONE]') { sawDone = true; return; }
      let msg;
      try { msg = JSON.parse(data); } catch { return finish(`bad SSE data: ${data.slice(0, 200)}`); }
      if (msg.error) return finish(`server error in stream: ${JSON.stringify(msg.error).slice(0, 300)}`);
      const choice = msg.choices && msg.choices[0];
      if (choice) {
        const text = choice.text ?? choice.delta?.content ?? '';
        const isToken = choice.finish_reason == null || text.length > 0;
        if (isToken) {
          const now = performance.now() - t0;
          if (result.ttft_ms === null) result.ttft_ms = now;
          else result.max_gap_ms = Math.max(result.max_gap_ms, now - lastChunk);
          lastChunk = now;
          result.chunk_tokens++;
          if (onChunk) onChunk(result);
        }
        if (choice.finish_reason != null) result.finish_reason = choice.finish_reason;
      }
      if (msg.usage) {
        result.output_tokens = msg.usage.completion_tokens ?? null;
        result.prompt_tokens = msg.usage.prompt_tokens ?? null;
        result.cached_tokens = msg.usage.prompt_tokens_details?.cached_tokens ?? null;
      }
    };
    req = transportFor(baseUrl).request(new URL('/v1/completions', baseUrl), {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload),
                 accept: 'text/event-stream', ...headers },
    }, (res) => {
      result.status = res.statusCode;
      result.headers_ms = performance.now() - t0;
      if (onResponse) onResponse(result);
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => finish(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        res.on('error', (e) => finish(`HTTP ${res.statusCode}: ${e.message}`));
        return;
      }
      res.on('data', (d) => {
        buffer += d;
        // Events end with a blank line; accept \n\n and \r\n\r\n.
        let idx;
        while ((idx = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const event = buffer.slice(0, idx);
          buffer = buffer.slice(idx).replace(/^\r?\n\r?\n/, '');
          const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:'))
                            .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
          if (data) handleEvent(data);
          if (done) { req.destroy(); return; }
        }
      });
      res.on('end', () => finish(null));
      res.on('error', (e) => finish(e.message));
      res.on('aborted', () => finish('response aborted by the server'));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data for ${timeoutMs} ms`)));
    req.on('error', (e) => {
      if (req.reusedSocket && result.status === null && !done &&
          (e.code === 'ECONNRESET' || e.message === 'socket hang up')) result.retryable = true;
      finish(e.message);
    });
    if (signal) signal.addEventListener('abort', () => { req.destroy(); finish('aborted by client'); },
                                       { once: true });
    req.end(payload);
  });
}

// Fields of a /v1/completions request body for a benchmark request.
export function completionBody({ model, ids, outputTokens, stream = true }) {
  const body = {
    prompt: ids, max_tokens: outputTokens, temperature: 0, ignore_eos: true, stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (model) body.model = model;
  return body;
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function percentile(sorted, p) {  // linear interpolation between closest ranks
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank), hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function summarize(values) {
  const v = values.filter((x) => x !== null && x !== undefined && Number.isFinite(x))
                  .sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, mean: null, p50: null, p90: null, p99: null, min: null, max: null };
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    n: v.length, mean: round(v.reduce((a, b) => a + b, 0) / v.length),
    p50: round(percentile(v, 50)), p90: round(percentile(v, 90)), p99: round(percentile(v, 99)),
    min: round(v[0]), max: round(v[v.length - 1]),
  };
}

// ---------------------------------------------------------------------------------------------
// Machine and server facts for the result JSON.

export function machineInfo() {
  const cpus = os.cpus();
  let nproc = cpus.length;
  try { nproc = os.availableParallelism(); } catch { /* Node < 18.14 */ }
  return {
    hostname: os.hostname(), nproc, cpu_model: cpus[0]?.model ?? 'unknown',
    total_memory_gib: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    kernel: `${os.type()} ${os.release()}`, node: process.version,
  };
}

export function loadavg1() {
  try { return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]); }
  catch { return os.loadavg()[0]; }
}

// GET /v1/models (both servers): the model ids the server reports.
export async function serverModels(baseUrl) {
  try {
    const r = await requestJson(new URL('/v1/models', baseUrl).href);
    if (r.status !== 200 || !r.json) return { error: `HTTP ${r.status}` };
    return { ids: (r.json.data ?? []).map((m) => m.id) };
  } catch (e) {
    return { error: e.message };
  }
}
