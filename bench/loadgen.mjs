#!/usr/bin/env node
// Serving load generator for any OpenAI-compatible server (mxserve, llama-server, vLLM...).
// Closed loop: at each concurrency level C, C workers each send one streaming POST
// /v1/completions at a time (stream, stream_options.include_usage, ignore_eos, temperature 0,
// prompt as token ids) until the level's requests (or duration) are used up.
//
// Per request: TTFT (first token chunk), TPOT ((e2e - ttft) / (output_tokens - 1)), end-to-end
// latency, output tokens (usage.completion_tokens, else counted chunks), errors.
// Per level: p50/p90/p99/mean of each, aggregate output tokens/s (all output tokens of the
// level / the level's wall time, first send to last finish), requests/s, errors.
//
//   node bench/loadgen.mjs --url http://127.0.0.1:8080 --concurrency 1,4,16 --requests 32 \
//        --prompt-tokens uniform:64-256 --output-tokens 64 --out /tmp/result.json
// Run with --help for every option.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import { readGgufVocab, invalidUtf8TokenIds } from './lib/gguf_vocab.mjs';
import {
  PromptFactory, parseDistribution, makeAgent, streamCompletion, completionBody, summarize,
  machineInfo, serverModels, loadavg1,
} from './lib/openai_client.mjs';

const HELP = `usage: node bench/loadgen.mjs --url URL [options]
  --url URL                    server base URL (default http://127.0.0.1:8080)
  --model NAME                 "model" field (default: first id from GET /v1/models, else omitted)
  --concurrency LIST           concurrency levels to sweep, e.g. 1,4,16 (default 1,4,16)
  --requests N|LIST            requests per level (default 32), or one count per level,
                               e.g. 8,16,64 with --concurrency 1,4,16
  --duration SEC               instead of --requests: send for SEC seconds per level, then
                               wait for the requests in flight
  --prompt-tokens DIST         prompt length in tokens (default 128)
  --output-tokens DIST         max_tokens, generated in full (ignore_eos) (default 64)
                               DIST: N | uniform:A-B | normal:MEAN,SD[,MIN,MAX]
  --shared-prefix-fraction F   each prompt starts with the same F share of its tokens (0..1,
                               default 0): for prefix-cache tests
  --token-range A-B            token ids the prompts are drawn from (default 1000-30000)
  --seed N                     prompt/length seed (default 1)
  --warmup N                   requests before the sweep, not measured (default 2)
  --timeout SEC                per-request inactivity timeout (default 600)
  --label TEXT                 name of the server in the result (default: the URL)
  --api-key KEY                sent as "Authorization: Bearer KEY"
  --ban-invalid-utf8 GGUF      send logit_bias -100 for the tokens of this GGUF's vocabulary
                               that are not valid UTF-8 alone (see bench/lib/gguf_vocab.mjs:
                               llama-server aborts streams of random-weight models otherwise)
  --extra-body JSON            fields merged into every request body, e.g.
                               '{"cache_prompt":false}' (llama-server without prefix reuse)
  --out FILE                   write the JSON result here (default: stdout)
  --quiet                      no per-level table on stderr`;

function requestCounts(spec, levels, positiveInt) {
  const counts = spec.split(',').map((s) => positiveInt('requests', s.trim()));
  if (counts.length === 1) return levels.map(() => counts[0]);
  if (counts.length !== levels.length) {
    throw new Error(`--requests has ${counts.length} counts for ${levels.length} concurrency levels`);
  }
  return counts;
}

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv, allowPositionals: false,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      model: { type: 'string' },
      concurrency: { type: 'string', default: '1,4,16' },
      requests: { type: 'string', default: '32' },
      duration: { type: 'string' },
      'prompt-tokens': { type: 'string', default: '128' },
      'output-tokens': { type: 'string', default: '64' },
      'shared-prefix-fraction': { type: 'string', default: '0' },
      'token-range': { type: 'string', default: '1000-30000' },
      seed: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '600' },
      label: { type: 'string' },
      'api-key': { type: 'string' },
      'extra-body': { type: 'string' },
      'ban-invalid-utf8': { type: 'string' },
      out: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { console.log(HELP); process.exit(0); }
  const positiveInt = (name, s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${s}"`);
    return n;
  };
  const levels = values.concurrency.split(',').map((s) => positiveInt('concurrency', s.trim()));
  if (levels.length === 0 || levels.some((c) => c < 1)) throw new Error('--concurrency needs levels >= 1');
  const fraction = Number(values['shared-prefix-fraction']);
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`--shared-prefix-fraction must be in [0, 1], got "${values['shared-prefix-fraction']}"`);
  const range = /^(\d+)-(\d+)$/.exec(values['token-range']);
  if (!range || Number(range[2]) < Number(range[1])) throw new Error(`--token-range must be A-B, got "${values['token-range']}"`);
  const duration = values.duration !== undefined ? Number(values.duration) : null;
  if (duration !== null && !(duration > 0)) throw new Error(`--duration must be > 0 seconds, got "${values.duration}"`);
  const url = values.url.replace(/\/+$/, '');
  let extraBody = {};
  if (values['extra-body'] !== undefined) {
    try { extraBody = JSON.parse(values['extra-body']); } catch (e) {
      throw new Error(`--extra-body is not JSON: ${e.message}`);
    }
  }
  return {
    url, model: values.model, levels,
    requests: requestCounts(values.requests, levels, positiveInt), duration_s: duration,
    promptDist: parseDistribution(values['prompt-tokens'], '--prompt-tokens'),
    outputDist: parseDistribution(values['output-tokens'], '--output-tokens'),
    sharedPrefixFraction: fraction,
    tokenMin: Number(range[1]), tokenMax: Number(range[2]),
    seed: positiveInt('seed', values.seed), warmup: positiveInt('warmup', values.warmup),
    timeoutMs: Number(values.timeout) * 1000, label: values.label ?? url,
    apiKey: values['api-key'], extraBody, banInvalidUtf8: values['ban-invalid-utf8'], out: values.out, quiet: values.quiet,
  };
}

// Runs one concurrency level; `stream` names the prompt stream (see PromptFactory.make).
async function runLevel(cfg, prompts, concurrency, stream, count, durationS) {
  const agent = makeAgent(cfg.url, concurrency);
  const headers = cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : {};
  const records = [];
  let next = 0;
  const start = performance.now();
  const deadline = durationS !== null ? start + durationS * 1000 : null;
  const more = () => (deadline !== null ? performance.now() < deadline : next < count);
  async function worker() {
    while (more()) {
      const index = next++;
      const p = prompts.make(stream, index, cfg.promptDist, cfg.outputDist);
      const body = { ...completionBody({ model: cfg.model, ids: p.ids, outputTokens: p.outputTokens }),
                     ...cfg.extraBody };
      const sent = performance.now() - start;
      const r = await streamCompletion(cfg.url, body, { agent, timeoutMs: cfg.timeoutMs, headers });
      records.push({ index, sent_ms: sent, prompt_tokens_sent: p.promptTokens,
                     shared_prefix_tokens: p.sharedTokens, max_tokens: p.outputTokens, ...r });
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = (performance.now() - start) / 1000;
  agent.destroy();
  return { records, wallS };
}

function levelSummary(concurrency, records, wallS) {
  const ok = records.filter((r) => r.ok);
  const tpot = ok.filter((r) => r.output_tokens > 1 && r.ttft_ms !== null)
                 .map((r) => (r.e2e_ms - r.ttft_ms) / (r.output_tokens - 1));
  const outputTotal = ok.reduce((a, r) => a + r.output_tokens, 0);
  const promptTotal = ok.reduce((a, r) => a + r.prompt_tokens_sent, 0);
  const errors = records.filter((r) => !r.ok);
  const round = (x) => Math.round(x * 1000) / 1000;
  return {
    concurrency, requests: records.length, completed: ok.length, errors: errors.length,
    error_samples: [...new Set(errors.map((r) => r.error))].slice(0, 5),
    // ignore_eos should make every request generate max_tokens; fewer means the server stopped
    // early (ignored ignore_eos, hit its context limit, ...): such runs are not comparable.
    short_outputs: ok.filter((r) => r.output_tokens < r.max_tokens).length,
    prompt_token_mismatches: ok.filter((r) => r.prompt_tokens !== null &&
                                              r.prompt_tokens !== r.prompt_tokens_sent).length,
    // Requests sent again because the server had closed the idle keep-alive socket.
    resent_on_closed_socket: records.filter((r) => r.retried).length,
    wall_s: round(wallS),
    output_tokens_total: outputTotal, prompt_tokens_total: promptTotal,
    output_tok_s: round(outputTotal / wallS), prompt_tok_s: round(promptTotal / wallS),
    requests_s: round(ok.length / wallS),
    ttft_ms: summarize(ok.map((r) => r.ttft_ms)),
    tpot_ms: summarize(tpot),
    e2e_ms: summarize(ok.map((r) => r.e2e_ms)),
    max_gap_ms: summarize(ok.map((r) => r.max_gap_ms)),
    output_tokens: summarize(ok.map((r) => r.output_tokens)),
    cached_tokens: summarize(ok.map((r) => r.cached_tokens)),
    loadavg_end: loadavg1(),
  };
}

function printLevel(s) {
  const f = (x, d = 1) => (x === null ? '-' : x.toFixed(d));
  console.error(`c=${String(s.concurrency).padStart(3)}  ok ${s.completed}/${s.requests}` +
    `  err ${s.errors}  out ${f(s.output_tok_s)} tok/s  ${f(s.requests_s, 2)} req/s` +
    `  ttft p50/p99 ${f(s.ttft_ms.p50)}/${f(s.ttft_ms.p99)} ms` +
    `  tpot p50/p99 ${f(s.tpot_ms.p50)}/${f(s.tpot_ms.p99)} ms` +
    `  e2e p50 ${f(s.e2e_ms.p50)} ms  (load ${s.loadavg_end})`);
  if (s.errors) console.error(`       errors: ${s.error_samples.join(' | ')}`);
  if (s.short_outputs) console.error(`       ${s.short_outputs} requests ended before max_tokens`);
}

async function main() {
  let cfg;
  try { cfg = parseCli(process.argv.slice(2)); } catch (e) {
    console.error(`loadgen: ${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  const models = await serverModels(cfg.url);
  if (models.error) console.error(`loadgen: GET /v1/models failed (${models.error}); continuing`);
  if (cfg.model === undefined && models.ids?.length) cfg.model = models.ids[0];

  let bannedTokens = 0;
  if (cfg.banInvalidUtf8) {
    const ids = invalidUtf8TokenIds(readGgufVocab(cfg.banInvalidUtf8));
    bannedTokens = ids.length;
    cfg.extraBody = { logit_bias: Object.fromEntries(ids.map((id) => [String(id), -100])),
                      ...cfg.extraBody };
  }
  const prompts = new PromptFactory({
    seed: cfg.seed, tokenMin: cfg.tokenMin, tokenMax: cfg.tokenMax,
    sharedPrefixFraction: cfg.sharedPrefixFraction, maxPromptTokens: cfg.promptDist.max,
  });
  const result = {
    tool: 'mxserve bench/loadgen.mjs', date: new Date().toISOString(),
    server: { label: cfg.label, url: cfg.url, model: cfg.model ?? null, models: models.ids ?? null },
    machine: machineInfo(),
    settings: {
      concurrency: cfg.levels, requests_per_level: cfg.duration_s === null ? cfg.requests : null,
      duration_s: cfg.duration_s, prompt_tokens: cfg.promptDist.spec,
      output_tokens: cfg.outputDist.spec, shared_prefix_fraction: cfg.sharedPrefixFraction,
      token_range: [cfg.tokenMin, cfg.tokenMax], seed: cfg.seed, warmup: cfg.warmup,
      extra_body: { ...cfg.extraBody, logit_bias: undefined },
      invalid_utf8_tokens_banned: bannedTokens,
      timeout_s: cfg.timeoutMs / 1000, request: 'POST /v1/completions, prompt as token ids, ' +
        'stream, stream_options.include_usage, ignore_eos, temperature 0',
    },
    warmup: null, levels: [],
  };

  if (cfg.warmup > 0) {
    const c = Math.min(cfg.warmup, Math.max(...cfg.levels));
    const { records, wallS } = await runLevel(cfg, prompts, c, 'warmup', cfg.warmup, null);
    result.warmup = { requests: records.length, errors: records.filter((r) => !r.ok).length,
                      wall_s: Math.round(wallS * 1000) / 1000 };
    if (!cfg.quiet) console.error(`warm-up: ${records.length} requests, ${result.warmup.errors} errors, ${wallS.toFixed(1)} s`);
    if (result.warmup.errors === records.length) {
      console.error(`loadgen: every warm-up request failed: ${records[0].error}`);
      process.exit(1);
    }
  }
  for (const [i, c] of cfg.levels.entries()) {
    const { records, wallS } = await runLevel(cfg, prompts, c, `level${i}-c${c}`, cfg.requests[i],
                                              cfg.duration_s);
    const summary = levelSummary(c, records, wallS);
    summary.requests_detail = records.map((r) => ({
      index: r.index, sent_ms: Math.round(r.sent_ms), ok: r.ok, error: r.error ?? undefined,
      prompt_tokens: r.prompt_tokens_sent, output_tokens: r.output_tokens,
      ttft_ms: r.ttft_ms === null ? null : Math.round(r.ttft_ms * 10) / 10,
      e2e_ms: Math.round(r.e2e_ms * 10) / 10,
    }));
    result.levels.push(summary);
    if (!cfg.quiet) printLevel(summary);
  }
  const json = JSON.stringify(result, null, 1);
  if (cfg.out) fs.writeFileSync(cfg.out, json + '\n');
  else process.stdout.write(json + '\n');
  const failed = result.levels.some((l) => l.completed === 0);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(`loadgen: ${e.stack ?? e}`); process.exit(1); });
