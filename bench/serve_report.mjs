#!/usr/bin/env node
// Combines the per-round loadgen results of bench/serve_vs_llamaserver.sh into one JSON:
// per server and concurrency the medians over rounds, and the ratios mxserve / llama-server.
//   node bench/serve_report.mjs --raw DIR --servers "mxserve llama-server" --rounds R
//        --model FILE --out FILE [--settings JSON]
// DIR holds NAME.ROUND.json (loadgen --out), NAME.cmd (the server command line) and
// `versions` (NAME=version lines).

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';

const { values } = parseArgs({
  options: {
    raw: { type: 'string' }, servers: { type: 'string' }, rounds: { type: 'string' },
    model: { type: 'string' }, out: { type: 'string' }, settings: { type: 'string', default: '{}' },
  },
});
for (const k of ['raw', 'servers', 'rounds', 'model', 'out']) {
  if (!values[k]) { console.error(`serve_report: --${k} is required`); process.exit(2); }
}
const names = values.servers.split(/\s+/).filter(Boolean);
const rounds = Number(values.rounds);

const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
const readText = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : null);

const versions = Object.fromEntries((readText(path.join(values.raw, 'versions')) ?? '')
  .split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

const servers = {};
let machine = null, loadgenSettings = null;
for (const name of names) {
  const runs = [];
  for (let r = 1; r <= rounds; r++) {
    const result = JSON.parse(fs.readFileSync(path.join(values.raw, `${name}.${r}.json`), 'utf8'));
    machine ??= result.machine;
    loadgenSettings ??= result.settings;
    // Keep the per-level summaries; the per-request detail stays out of the committed file.
    for (const level of result.levels) delete level.requests_detail;
    runs.push({ round: r, date: result.date, levels: result.levels, warmup: result.warmup });
  }
  const byLevel = {};
  for (const run of runs) {
    for (const l of run.levels) (byLevel[l.concurrency] ??= []).push(l);
  }
  const medians = Object.entries(byLevel).map(([c, ls]) => ({
    concurrency: Number(c), rounds: ls.length,
    output_tok_s: round3(median(ls.map((l) => l.output_tok_s))),
    requests_s: round3(median(ls.map((l) => l.requests_s))),
    ttft_p50_ms: round3(median(ls.map((l) => l.ttft_ms.p50))),
    ttft_p99_ms: round3(median(ls.map((l) => l.ttft_ms.p99))),
    tpot_p50_ms: round3(median(ls.map((l) => l.tpot_ms.p50))),
    tpot_p99_ms: round3(median(ls.map((l) => l.tpot_ms.p99))),
    e2e_p50_ms: round3(median(ls.map((l) => l.e2e_ms.p50))),
    e2e_p99_ms: round3(median(ls.map((l) => l.e2e_ms.p99))),
    errors: ls.reduce((a, l) => a + l.errors, 0),
    short_outputs: ls.reduce((a, l) => a + l.short_outputs, 0),
  }));
  servers[name] = { command: readText(path.join(values.raw, `${name}.cmd`)),
                    version: versions[name] ?? null, medians, runs };
}

const ratio = (a, b) => (a === null || b === null || b === 0 ? null : round3(a / b));
const mx = servers.mxserve, ll = servers['llama-server'];
const comparison = (mx && ll) ? mx.medians.map((m) => {
  const l = ll.medians.find((x) => x.concurrency === m.concurrency);
  return {
    concurrency: m.concurrency,
    mxserve_output_tok_s: m.output_tok_s, llama_server_output_tok_s: l?.output_tok_s ?? null,
    output_tok_s_ratio: ratio(m.output_tok_s, l?.output_tok_s ?? null),
    mxserve_tpot_p99_ms: m.tpot_p99_ms, llama_server_tpot_p99_ms: l?.tpot_p99_ms ?? null,
    tpot_p99_ratio: ratio(m.tpot_p99_ms, l?.tpot_p99_ms ?? null),
    ttft_p50_ratio: ratio(m.ttft_p50_ms, l?.ttft_p50_ms ?? null),
  };
}) : null;

const model = values.model;
const report = {
  benchmark: 'serve_vs_llamaserver', date: new Date().toISOString(),
  model: { path: model, bytes: fs.existsSync(model) ? fs.statSync(model).size : null },
  settings: { ...JSON.parse(values.settings), loadgen: loadgenSettings },
  machine,
  notes: 'ratios are mxserve / llama-server of the medians over rounds: output_tok_s_ratio > 1 ' +
         'and tpot_p99_ratio < 1 favour mxserve',
  comparison, servers,
};
fs.writeFileSync(values.out, JSON.stringify(report, null, 1) + '\n');

// A short table on stderr.
for (const [name, s] of Object.entries(servers)) {
  for (const m of s.medians) {
    console.error(`${name.padEnd(13)} c=${String(m.concurrency).padStart(3)}  ${m.output_tok_s} tok/s  ` +
                  `tpot p50/p99 ${m.tpot_p50_ms}/${m.tpot_p99_ms} ms  ttft p50 ${m.ttft_p50_ms} ms  ` +
                  `errors ${m.errors}`);
  }
}
for (const c of comparison ?? []) {
  console.error(`c=${c.concurrency}: tok/s ratio ${c.output_tok_s_ratio}, TPOT p99 ratio ${c.tpot_p99_ratio}`);
}
