#!/usr/bin/env node
// Many idle connections: does the server keep serving while it holds N open connections that
// carry no traffic? A serving frontend must hold thousands of these (pooled client
// connections, SSE streams waiting for an engine slot) without them costing a thread each.
//
// Modes (--mode) for the N held connections:
//   keepalive  (default) each connection sends one GET /health, reads the answer and then stays
//              open with nothing in flight, like a client pool's idle connection. The engine
//              is idle, so the checks should run at their baseline latency.
//   queued     each connection is a streaming /v1/completions (short prompt, --hold-tokens
//              output). The engine runs at most its batch limit (mxserve --max-seqs, llama-server
//              --parallel) of them; the others wait in the queue with their SSE stream open and
//              silent. Every stream must be accepted and finish; the checks wait their turn in
//              the queue (their completion latency is the queue wait), /health must not.
//   silent     TCP connections that send nothing at all (a slow or stuck client). A server may
//              close them after a header timeout; that is reported, not an error.
// Meanwhile a check loop sends, one at a time on a new connection each, GET /health and a
// short streaming completion, and records whether they finish and how long they take. A few
// checks run before the connections open (baseline) for comparison.
//
//   node bench/idle_connections.mjs --url http://127.0.0.1:8080 --connections 1000 --duration 30
// --help lists every option. Raise the open-file limit (ulimit -n) above N + 100 on both sides.

import { parseArgs } from 'node:util';
import net from 'node:net';
import fs from 'node:fs';
import { readGgufVocab, invalidUtf8TokenIds } from './lib/gguf_vocab.mjs';
import {
  PromptFactory, parseDistribution, makeAgent, streamCompletion, completionBody, summarize,
  machineInfo, serverModels, requestJson, loadavg1,
} from './lib/openai_client.mjs';

const HELP = `usage: node bench/idle_connections.mjs --url URL [options]
  --url URL               server base URL (default http://127.0.0.1:8080)
  --model NAME            "model" field (default: first id from GET /v1/models)
  --mode M                keepalive | queued | silent (default keepalive)
  --connections N         connections to hold (default 1000)
  --open-batch N          connections opened at a time (default 100)
  --duration SEC          how long to hold them while checking (default 30); queued mode
                          ends earlier when every stream has finished
  --hold-tokens N         queued mode: max_tokens of each held stream (default 16)
  --hold-prompt-tokens N  queued mode: prompt tokens of each held stream (default 16)
  --check-prompt-tokens N prompt of a check completion (default 16)
  --check-tokens N        max_tokens of a check completion (default 8)
  --check-interval SEC    pause between checks (default 1)
  --check-timeout SEC     a check that takes longer counts as failed (default 120)
  --baseline N            checks before the connections open (default 3)
  --seed N                prompt seed (default 1)
  --ban-invalid-utf8 GGUF logit_bias -100 for the vocabulary's invalid-UTF-8 tokens (as in
                          loadgen.mjs; needed for llama-server with random-weight models)
  --out FILE              JSON result (default: stdout)`;

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      model: { type: 'string' },
      mode: { type: 'string', default: 'keepalive' },
      connections: { type: 'string', default: '1000' },
      'open-batch': { type: 'string', default: '100' },
      duration: { type: 'string', default: '30' },
      'hold-tokens': { type: 'string', default: '16' },
      'hold-prompt-tokens': { type: 'string', default: '16' },
      'check-prompt-tokens': { type: 'string', default: '16' },
      'check-tokens': { type: 'string', default: '8' },
      'check-interval': { type: 'string', default: '1' },
      'check-timeout': { type: 'string', default: '120' },
      baseline: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      'ban-invalid-utf8': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { console.log(HELP); process.exit(0); }
  if (!['keepalive', 'queued', 'silent'].includes(values.mode)) {
    throw new Error(`--mode must be keepalive, queued or silent, got "${values.mode}"`);
  }
  const num = (name, min) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${values[name]}"`);
    return n;
  };
  return {
    url: values.url.replace(/\/+$/, ''), model: values.model, mode: values.mode,
    connections: num('connections', 1), openBatch: num('open-batch', 1),
    durationS: num('duration', 1), holdTokens: num('hold-tokens', 1),
    holdPromptTokens: num('hold-prompt-tokens', 1), checkPromptTokens: num('check-prompt-tokens', 1),
    checkTokens: num('check-tokens', 1), checkIntervalS: num('check-interval', 0),
    checkTimeoutS: num('check-timeout', 1), baseline: num('baseline', 0), seed: num('seed', 0),
    out: values.out, banInvalidUtf8: values['ban-invalid-utf8'], extraBody: {},
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const requestBody = (cfg, p) => ({
  ...completionBody({ model: cfg.model, ids: p.ids, outputTokens: p.outputTokens }), ...cfg.extraBody,
});

// ---------------------------------------------------------------------------------------------
// Held connections: raw sockets for keepalive and silent (so that nothing but what we write
// goes over them and a server-side close is seen at once), the streaming client for queued.

class RawHeld {
  constructor(url, sendHealth) {
    this.state = 'connecting';  // connecting -> open -> closed
    this.openedMs = null;
    this.closedMs = null;
    this.closedBy = null;
    this.error = null;
    const u = new URL(url);
    this.socket = net.connect({ host: u.hostname, port: Number(u.port || 80) });
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve) => {
      let buf = '';
      this.socket.on('connect', () => {
        if (!sendHealth) { this.state = 'open'; this.openedMs = performance.now(); resolve(); return; }
        this.socket.write(`GET /health HTTP/1.1\r\nHost: ${u.host}\r\nConnection: keep-alive\r\n\r\n`);
      });
      this.socket.setEncoding('latin1');
      this.socket.on('data', (d) => {
        if (this.state !== 'connecting') return;
        buf += d;
        // One small response: the head, then Content-Length bytes (or a chunked body's end).
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buf.slice(0, headEnd);
        const len = /content-length:\s*(\d+)/i.exec(head);
        const bodyHave = buf.length - headEnd - 4;
        const complete = len ? bodyHave >= Number(len[1]) : buf.endsWith('0\r\n\r\n');
        if (!complete) return;
        const status = Number(head.split(' ')[1]);
        if (status !== 200) this.error = `GET /health: HTTP ${status}`;
        this.state = 'open';
        this.openedMs = performance.now();
        resolve();
      });
      this.socket.on('error', (e) => { this.error = this.error ?? e.code ?? e.message; });
      this.socket.on('close', () => {
        if (this.closedBy === null) this.closedBy = 'server';
        this.closedMs = performance.now();
        this.state = 'closed';
        resolve();
      });
    });
  }
  get isOpen() { return this.state === 'open'; }
  close() { if (this.state !== 'closed') { this.closedBy = 'client'; this.socket.destroy(); } }
}

class StreamHeld {
  constructor(cfg, agent, prompts, index) {
    const p = prompts.make('hold', index, parseDistribution(cfg.holdPromptTokens, 'hold'),
                           parseDistribution(cfg.holdTokens, 'hold'));
    this.controller = new AbortController();
    this.accepted = false;
    this.finished = false;
    this.ready = new Promise((resolveReady) => {
      this.result = streamCompletion(cfg.url, requestBody(cfg, p), {
        agent, timeoutMs: (cfg.durationS + cfg.checkTimeoutS) * 1000, signal: this.controller.signal,
        onResponse: (r) => { this.accepted = r.status === 200; resolveReady(); },
      }).then((r) => { this.finished = true; resolveReady(); return r; });
    });
  }
  // Open = the request was written and its stream has not ended (accepted or still waiting for
  // the response head: a queued request may get its head only when it is scheduled).
  get isOpen() { return !this.finished; }
  close() { this.controller.abort(); }
}

// ---------------------------------------------------------------------------------------------
// Checks, each on a new connection (agent: false / a fresh agent): GET /health (the HTTP layer
// answers) and a short streaming completion (the request gets through to the engine and back).

async function healthCheck(cfg) {
  const t0 = performance.now();
  try {
    const r = await requestJson(`${cfg.url}/health`, { agent: false, timeoutMs: cfg.checkTimeoutS * 1000 });
    return { ms: performance.now() - t0, error: r.status === 200 ? null : `HTTP ${r.status}` };
  } catch (e) {
    return { ms: performance.now() - t0, error: e.message };
  }
}

async function completionCheck(cfg, prompts, phase, index) {
  const p = prompts.make(`check-${phase}`, index, parseDistribution(cfg.checkPromptTokens, 'check'),
                         parseDistribution(cfg.checkTokens, 'check'));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), cfg.checkTimeoutS * 1000);
  const agent = makeAgent(cfg.url, 1);
  const c = await streamCompletion(cfg.url, requestBody(cfg, p),
                                   { agent, timeoutMs: cfg.checkTimeoutS * 1000, signal: controller.signal });
  clearTimeout(timer);
  agent.destroy();
  const error = c.error === 'aborted by client' ? `timeout after ${cfg.checkTimeoutS} s` : c.error;
  return { ok: c.ok, error, ttft_ms: c.ttft_ms, e2e_ms: c.e2e_ms, output_tokens: c.output_tokens };
}

function checkSummary(health, completions) {
  const okH = health.filter((h) => !h.error), okC = completions.filter((c) => c.ok);
  return {
    health_checks: health.length, health_ok: okH.length,
    health_errors: [...new Set(health.map((h) => h.error).filter(Boolean))].slice(0, 5),
    health_ms: summarize(okH.map((h) => h.ms)),
    completions: completions.length, completions_ok: okC.length,
    completion_errors: [...new Set(completions.map((c) => c.error).filter(Boolean))].slice(0, 5),
    completion_ttft_ms: summarize(okC.map((c) => c.ttft_ms)),
    completion_e2e_ms: summarize(okC.map((c) => c.e2e_ms)),
  };
}

async function main() {
  let cfg;
  try { cfg = parseCli(process.argv.slice(2)); } catch (e) {
    console.error(`idle_connections: ${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  const models = await serverModels(cfg.url);
  if (models.error) {
    console.error(`idle_connections: GET ${cfg.url}/v1/models failed: ${models.error}`);
    process.exit(1);
  }
  if (cfg.model === undefined && models.ids?.length) cfg.model = models.ids[0];
  if (cfg.banInvalidUtf8) {
    const ids = invalidUtf8TokenIds(readGgufVocab(cfg.banInvalidUtf8));
    cfg.extraBody = { logit_bias: Object.fromEntries(ids.map((id) => [String(id), -100])) };
  }
  const prompts = new PromptFactory({ seed: cfg.seed, tokenMin: 1000, tokenMax: 30000,
                                      sharedPrefixFraction: 0, maxPromptTokens: 1 });
  const log = (msg) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

  const baseHealth = [], baseCompletions = [];
  for (let i = 0; i < cfg.baseline; i++) {
    baseHealth.push(await healthCheck(cfg));
    baseCompletions.push(await completionCheck(cfg, prompts, 'baseline', i));
  }
  const baseline = checkSummary(baseHealth, baseCompletions);
  log(`baseline: ${baseline.completions_ok}/${baseline.completions} completions ok, ` +
      `completion e2e p50 ${baseline.completion_e2e_ms.p50} ms, health p50 ${baseline.health_ms.p50} ms`);

  // Open the held connections in batches (a burst of thousands of SYNs can overflow the
  // server's listen backlog; that would measure the backlog, not idle connections).
  const held = [];
  const holdAgent = makeAgent(cfg.url, Infinity);
  const openStart = performance.now();
  for (let i = 0; i < cfg.connections; i += cfg.openBatch) {
    const batch = [];
    for (let j = i; j < Math.min(cfg.connections, i + cfg.openBatch); j++) {
      const h = cfg.mode === 'queued' ? new StreamHeld(cfg, holdAgent, prompts, j)
                                      : new RawHeld(cfg.url, cfg.mode === 'keepalive');
      held.push(h);
      batch.push(h);
    }
    // Raw connections: wait until the batch is open. Queued streams: their response head may
    // come only when the engine schedules them, so do not wait for it.
    // A server that never answers must not hang the tool: wait at most --check-timeout.
    if (cfg.mode !== 'queued') {
      await Promise.race([Promise.all(batch.map((h) => h.ready)), sleep(cfg.checkTimeoutS * 1000)]);
    }
  }
  const openS = (performance.now() - openStart) / 1000;
  const openedCount = held.filter((h) => h.isOpen).length;
  // Raw connections that were ever open (answered their GET /health in keepalive mode).
  const everOpened = held.filter((h) => h.openedMs !== undefined && h.openedMs !== null).length;
  log(`${cfg.mode}: ${openedCount}/${cfg.connections} connections open after ${openS.toFixed(1)} s` +
      (cfg.mode === 'queued' ? '' : ` (${everOpened} were open at some point)`));

  // Hold them for the duration while two check loops run: /health every --check-interval,
  // completions one after the other (a completion started before the end is waited for).
  const health = [], completions = [];
  const holdStart = performance.now();
  const deadline = holdStart + cfg.durationS * 1000;
  const elapsedS = () => Math.round((performance.now() - holdStart) / 100) / 10;
  const holding = () => performance.now() < deadline &&
                        !(cfg.mode === 'queued' && held.every((h) => h.finished));
  let minOpen = openedCount;
  const sampler = setInterval(() => { minOpen = Math.min(minOpen, held.filter((h) => h.isOpen).length); }, 250);
  const healthLoop = async () => {
    while (holding()) {
      const h = await healthCheck(cfg);
      health.push({ started_s: elapsedS(), ...h, open_connections: held.filter((x) => x.isOpen).length });
      await sleep(cfg.checkIntervalS * 1000);
    }
  };
  const completionLoop = async () => {
    for (let index = 0; holding(); index++) {
      const started = elapsedS();
      const c = await completionCheck(cfg, prompts, 'held', index);
      const open = held.filter((x) => x.isOpen).length;
      completions.push({ started_s: started, ...c, open_connections: open });
      log(`completion check ${index + 1}: ${c.ok ? `${c.e2e_ms.toFixed(0)} ms` : c.error}; ` +
          `${health.length} health checks so far, ${open} connections held open`);
      await sleep(cfg.checkIntervalS * 1000);
    }
  };
  await Promise.all([healthLoop(), completionLoop()]);
  clearInterval(sampler);
  const openAtEnd = held.filter((h) => h.isOpen).length;

  const result = {
    tool: 'mxserve bench/idle_connections.mjs', date: new Date().toISOString(),
    server: { url: cfg.url, model: cfg.model ?? null }, machine: machineInfo(),
    settings: { mode: cfg.mode, connections: cfg.connections, open_batch: cfg.openBatch,
                duration_s: cfg.durationS, hold_tokens: cfg.holdTokens,
                hold_prompt_tokens: cfg.holdPromptTokens, check_prompt_tokens: cfg.checkPromptTokens,
                check_tokens: cfg.checkTokens, check_interval_s: cfg.checkIntervalS,
                check_timeout_s: cfg.checkTimeoutS },
    held: { requested: cfg.connections, opened: openedCount,
            ever_opened: cfg.mode === 'queued' ? null : everOpened, open_s: Math.round(openS * 100) / 100,
            min_open_while_holding: minOpen, open_at_end: openAtEnd,
            held_s: Math.round((performance.now() - holdStart) / 100) / 10 },
    baseline, under_load: checkSummary(health, completions),
    checks: { health, completions }, loadavg_end: loadavg1(),
  };
  if (cfg.mode === 'queued') {
    const results = await Promise.all(held.map(async (h) => {
      if (!h.finished) h.close();  // duration over: abort what is still waiting or streaming
      return h.result;
    }));
    const ok = results.filter((r) => r.ok);
    result.held.streams = {
      accepted: held.filter((h) => h.accepted).length, completed: ok.length,
      aborted_at_end: results.filter((r) => r.error === 'aborted by client').length,
      errors: [...new Set(results.filter((r) => !r.ok && r.error !== 'aborted by client')
                                 .map((r) => r.error))].slice(0, 5),
      ttft_ms: summarize(ok.map((r) => r.ttft_ms)), e2e_ms: summarize(ok.map((r) => r.e2e_ms)),
    };
  } else {
    const closedByServer = held.filter((h) => h.closedBy === 'server');
    result.held.closed_by_server = closedByServer.length;
    result.held.closed_after_s = summarize(closedByServer.filter((h) => h.openedMs !== null)
      .map((h) => (h.closedMs - h.openedMs) / 1000));
    result.held.errors = [...new Set(held.map((h) => h.error).filter(Boolean))].slice(0, 5);
    held.forEach((h) => h.close());
  }
  holdAgent.destroy();

  const u = result.under_load;
  log(`held ${openedCount} opened, ${minOpen} minimum open, ${openAtEnd} open at the end; ` +
      `checks: ${u.completions_ok}/${u.completions} completions ok, ` +
      `${u.health_ok}/${u.health_checks} health ok, health p50 ${u.health_ms.p50} ms ` +
      `(baseline ${result.baseline.health_ms.p50}), completion e2e p50 ${u.completion_e2e_ms.p50} ms ` +
      `(baseline ${result.baseline.completion_e2e_ms.p50})`);
  if (result.held.streams) {
    const s = result.held.streams;
    log(`queued streams: ${s.accepted} accepted, ${s.completed} completed, ${s.aborted_at_end} aborted at the end`);
  }
  const json = JSON.stringify(result, null, 1);
  if (cfg.out) fs.writeFileSync(cfg.out, json + '\n');
  else process.stdout.write(json + '\n');
  // Pass: at least one completion under load, and every check answered.
  const pass = u.completions > 0 && u.completions_ok === u.completions && u.health_ok === u.health_checks;
  process.exit(pass ? 0 : 1);
}

main().catch((e) => { console.error(`idle_connections: ${e.stack ?? e}`); process.exit(1); });
