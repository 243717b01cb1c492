// The metering ledger under abuse: 1,000 requests from several keys, 30% of them aborted by the
// client mid-stream, some keys over their token quotas, and the server killed with SIGKILL once
// in the middle and restarted. Afterwards every record is checked against what the clients saw:
//  - each request that was answered (a response id seen) has exactly one record;
//  - finished requests are billed exactly the usage the client was told;
//  - aborted requests (client gone, or cut by the crash) are billed at least what the client
//    received and at most what the request could compute (prompt + max_tokens), with status
//    aborted (recovered = true for the crash), or ok with all max_tokens when the generation
//    had finished before the client's disconnect reached the server;
//  - a request refused with 429 has no record (nothing was computed), and per key the ledger's
//    sums equal the sums of those per-request amounts.
// Env: MX_MXSERVE (binary), MX_MODEL (GGUF), MX_LEDGER_FLAG and MX_LEDGER_VALUE (--data-dir DIR
// or --ledger URL), MX_KEYS (JSON file: {admin, keys: [{id, secret, kind}]}), MX_WORK (dir).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";

const TOTAL = Number(process.env.MX_REQUESTS || 1000);
const CONCURRENCY = 16;
const ABORT_FRACTION = 0.45;  // of the streams (80% of requests): >= 30% of all end aborted
const CRASH_AT = Math.floor(TOTAL * 0.45);  // requests started before the SIGKILL
const keys = JSON.parse(fs.readFileSync(process.env.MX_KEYS, "utf8"));
const work = process.env.MX_WORK;

// ---- the server process ----
let server = null;
let baseUrl = null;
let generation = 0;  // server incarnation

async function startServer() {
  generation += 1;
  const log = path.join(work, `server.${generation}.log`);
  const out = fs.openSync(log, "w");
  server = spawn(process.env.MX_MXSERVE, [
    "serve", "-m", process.env.MX_MODEL, "--served-model-name", "tiny", "--port", "0",
    "--threads", "2", "--ctx", "512", "--kv-memory", "64MiB", "--max-seqs", "8",
    "--shutdown-grace", "5", process.env.MX_LEDGER_FLAG, process.env.MX_LEDGER_VALUE,
  ], { stdio: ["ignore", "ignore", out] });
  for (let i = 0; i < 600; i++) {
    const text = fs.readFileSync(log, "utf8");
    const match = text.match(/serving .* on http:\/\/[^:]*:(\d+)/);
    if (match) {
      baseUrl = `http://127.0.0.1:${match[1]}`;
      return text;
    }
    if (server.exitCode !== null) throw new Error(`server exited:\n${text}`);
    await sleep(100);
  }
  throw new Error("server did not start in 60 s");
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// ---- one request ----
let seed = 12345;
function random() {  // deterministic LCG, so a failure can be replayed
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function planRequest(index) {
  // keys: [free, free, per-minute quota, per-day quota]; the quota keys get 15% of the traffic,
  // enough to run over their limits.
  const pick = random();
  const key = pick < 0.85 ? keys.keys[pick < 0.425 ? 0 : 1] : keys.keys[pick < 0.925 ? 2 : 3];
  const promptLength = 8 + Math.floor(random() * 32);
  const stream = random() < 0.8;
  const prompt = Array.from({ length: promptLength }, () => 100 + Math.floor(random() * 5000));
  return {
    index, key, prompt,
    maxTokens: 4 + Math.floor(random() * 20),
    stream,
    abortAfter: stream && random() < ABORT_FRACTION ? 1 + Math.floor(random() * 3) : 0,  // chunks
  };
}

// Outcome: {kind: "ok" | "aborted" | "cut" | "refused", id, told, received}
async function runRequest(plan) {
  const controller = new AbortController();
  const body = {
    model: "tiny", prompt: plan.prompt, max_tokens: plan.maxTokens, ignore_eos: true,
    temperature: 0, stream: plan.stream,
  };
  if (plan.stream) body.stream_options = { include_usage: true };
  const outcome = { plan, kind: "ok", id: null, told: null, received: 0, generation };
  let response;
  try {
    response = await fetch(`${baseUrl}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${plan.key.secret}` },
      body: JSON.stringify(body), signal: controller.signal,
    });
  } catch {
    // No response head: killed while the request was in flight (workers wait for the restart
    // before sending more), possibly after its admission put an open record in the ledger.
    outcome.kind = "cut";
    return outcome;
  }
  if (response.status === 429) {
    outcome.kind = "refused";
    outcome.retryAfter = response.headers.get("retry-after");
    await response.text();
    return outcome;
  }
  if (response.status !== 200) {
    throw new Error(`request ${plan.index}: HTTP ${response.status} ${await response.text()}`);
  }
  try {
    if (!plan.stream) {
      const json = await response.json();
      outcome.id = json.id;
      outcome.told = json.usage;
      outcome.received = json.usage.completion_tokens;
      return outcome;
    }
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const piece of response.body) {
      buffer += decoder.decode(piece, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end).replace(/^data: /, "");
        buffer = buffer.slice(end + 2);
        if (event === "[DONE]") continue;
        const chunk = JSON.parse(event);
        outcome.id = chunk.id;
        if (chunk.usage) outcome.told = chunk.usage;
        if (chunk.choices && chunk.choices.length > 0 && chunk.choices[0].text !== undefined) {
          outcome.received += 1;  // one chunk per token with text (at most one token each)
        }
        if (plan.abortAfter && outcome.received >= plan.abortAfter && !chunk.usage) {
          outcome.kind = "aborted";
          controller.abort();
          return outcome;
        }
      }
    }
    if (!outcome.told) outcome.kind = "cut";  // stream ended without usage: the crash
  } catch (error) {
    if (outcome.kind === "aborted") return outcome;
    outcome.kind = "cut";
  }
  return outcome;
}

// ---- the run ----
await startServer();
const outcomes = [];
let next = 0;
let crashed = false;
let restarting = null;

async function worker() {
  while (next < TOTAL) {
    const plan = planRequest(next++);
    if (!crashed && plan.index >= CRASH_AT) {
      crashed = true;
      server.kill("SIGKILL");  // mid-traffic: other workers have requests in flight
      restarting = (async () => { await sleep(300); await startServer(); })();
    }
    if (restarting) await restarting;
    outcomes.push(await runRequest(plan));
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));

// ---- the ledger afterwards ----
const admin = { authorization: `Bearer ${keys.admin}` };
const recordsResponse = await fetch(`${baseUrl}/admin/usage/records`, { headers: admin });
assert.equal(recordsResponse.status, 200, await recordsResponse.clone().text());
const records = (await recordsResponse.json()).data;
const byId = new Map();
for (const record of records) {
  assert.ok(!byId.has(record.request_id), `record ${record.request_id} twice`);
  byId.set(record.request_id, record);
}

const counts = {};
const expectedPerKey = {};  // key id → {min, max} completion tokens, exact prompt tokens
const seen = new Set();
for (const o of outcomes) {
  counts[o.kind] = (counts[o.kind] || 0) + 1;
  if (o.kind === "refused") {
    assert.ok(Number(o.retryAfter) >= 1, `429 without Retry-After (request ${o.plan.index})`);
    continue;
  }
  if (o.id === null) continue;  // never answered: checked below through the leftovers
  const record = byId.get(o.id);
  assert.ok(record, `request ${o.plan.index} (${o.kind}, id ${o.id}) has no record`);
  seen.add(o.id);
  assert.equal(record.key_id, o.plan.key.id);
  assert.equal(record.prompt_tokens, o.plan.prompt.length, `prompt tokens of ${o.id}`);
  const e = (expectedPerKey[record.key_id] ||= { prompt: 0, min: 0, max: 0 });
  e.prompt += o.plan.prompt.length;
  if (o.kind === "ok") {
    assert.equal(record.status, "ok", `status of ${o.id}`);
    assert.equal(record.completion_tokens, o.told.completion_tokens, `completion of ${o.id}`);
    assert.equal(record.prompt_tokens, o.told.prompt_tokens);
    e.min += o.told.completion_tokens;
    e.max += o.told.completion_tokens;
  } else {
    if (o.kind === "cut" && record.status === "ok") {
      // The final record was committed, then the crash cut the response's last bytes (the
      // end of a response is sent only after its record commits): billed in full, once.
      assert.equal(record.completion_tokens, o.plan.maxTokens, `${o.id} finished before the crash`);
    } else if (o.kind === "cut") {
      assert.equal(record.status, "aborted", `status of ${o.id} cut by the crash`);
      assert.equal(record.recovered, true, `${o.id} cut by the crash`);
    } else if (record.status === "ok") {
      // The generation ended before the disconnect reached the server (its last chunks were
      // on their way): all of it was computed, and all of it is billed.
      assert.equal(record.completion_tokens, o.plan.maxTokens, `${o.id} finished before the abort`);
    } else {
      assert.equal(record.status, "aborted", `status of aborted request ${o.id}`);
    }
    assert.ok(record.completion_tokens >= o.received,
              `${o.id}: billed ${record.completion_tokens} < ${o.received} delivered`);
    assert.ok(record.completion_tokens <= o.plan.maxTokens, `${o.id}: over max_tokens`);
    e.min += o.received;
    e.max += o.plan.maxTokens;
  }
}
// Records no client saw an id for: admitted just before the crash, settled at the restart.
const cutWithoutId = outcomes.filter((o) => o.kind === "cut" && o.id === null).length;
const leftovers = records.filter((r) => !seen.has(r.request_id));
assert.ok(leftovers.length <= cutWithoutId,
          `${leftovers.length} records no client knows, only ${cutWithoutId} requests cut early`);
for (const r of leftovers) {
  assert.equal(r.status, "aborted");
  assert.equal(r.recovered, true);
}
// Per key: the ledger's sums against the clients' view.
for (const [keyId, e] of Object.entries(expectedPerKey)) {
  const mine = records.filter((r) => r.key_id === keyId && seen.has(r.request_id));
  const prompt = mine.reduce((s, r) => s + r.prompt_tokens, 0);
  const completion = mine.reduce((s, r) => s + r.completion_tokens, 0);
  assert.equal(prompt, e.prompt, `prompt tokens of ${keyId}`);
  assert.ok(completion >= e.min && completion <= e.max,
            `completion tokens of ${keyId}: ${completion} not in [${e.min}, ${e.max}]`);
}
assert.ok(counts.refused > 0, "no request hit a quota: the test lost its point");
assert.ok((counts.aborted || 0) >= TOTAL * 0.3, `only ${counts.aborted} client aborts: ${JSON.stringify(counts)}`);
assert.ok(crashed && generation === 2, "the server was not restarted");
console.log(JSON.stringify({ outcomes: counts, records: records.length,
                             recovered: records.filter((r) => r.recovered).length }));
server.kill("SIGTERM");
