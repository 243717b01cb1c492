// Soak: mixed valid and hostile traffic against a running `mxserve serve` for DURATION_S
// seconds, then the end-state checks the hardening issue asks for. Driven by bench/soak.sh,
// which starts the server; this file only talks to it (HTTP over loopback, raw sockets for the
// hostile parts) and reads its RSS from /proc.
//
// Env: MX_BASE_URL, MX_SERVER_PID, MX_ADMIN_KEY, MX_USER_KEY, MX_MODEL, DURATION_S (600),
// VALID_WORKERS (3), HOSTILE_WORKERS (2), OUT (JSON results file).
// Every wait is bounded. Exit status 1 when a check fails (the JSON says which).
import http from "node:http";
import net from "node:net";
import fs from "node:fs";

const base = new URL(process.env.MX_BASE_URL);
const pid = Number(process.env.MX_SERVER_PID);
const adminKey = process.env.MX_ADMIN_KEY;
const userKey = process.env.MX_USER_KEY;
const model = process.env.MX_MODEL;
const durationMs = Number(process.env.DURATION_S ?? 600) * 1000;
const validWorkers = Number(process.env.VALID_WORKERS ?? 3);
const hostileWorkers = Number(process.env.HOSTILE_WORKERS ?? 2);
const deadline = Date.now() + durationMs;

const stats = { valid: {}, hostile: {}, failures: [], health_ms: [], health_failures: 0, rss_kib: [] };
const delivered = new Map();  // request id → {prompt, completion, status: "ok" | "aborted"}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const rand = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
function count(table, key) { table[key] = (table[key] ?? 0) + 1; }
function fail(what) { if (stats.failures.length < 200) stats.failures.push(what); }

// One HTTP request; resolves {status, headers, body} or {error}. Bounded by timeoutMs.
function request(method, path, { body, headers = {}, timeoutMs = 120000, onChunk, abortAfter } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, agent: false,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers } });
    const timer = setTimeout(() => { req.destroy(); resolve({ error: "timeout" }); }, timeoutMs);
    req.on("error", (e) => { clearTimeout(timer); resolve({ error: e.code ?? e.message }); });
    req.on("response", (res) => {
      const parts = [];
      let chunks = 0;
      res.on("data", (d) => {
        parts.push(d);
        if (onChunk) onChunk(d);
        if (abortAfter !== undefined && ++chunks >= abortAfter) {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString(), aborted: true });
        }
      });
      res.on("end", () => { clearTimeout(timer); resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString() }); });
      res.on("error", (e) => { clearTimeout(timer); resolve({ error: e.code ?? e.message }); });
    });
    if (body !== undefined) req.end(typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    else req.end();
  });
}

// Raw bytes on a fresh socket; resolves what came back within timeoutMs (or at close).
function raw(bytes, { timeoutMs = 5000, halfClose = false } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(Number(base.port), base.hostname);
    const parts = [];
    const done = () => { clearTimeout(timer); socket.destroy(); resolve(Buffer.concat(parts).toString("latin1")); };
    const timer = setTimeout(done, timeoutMs);
    socket.on("connect", () => { socket.write(bytes); if (halfClose) socket.end(); });
    socket.on("data", (d) => parts.push(d));
    socket.on("close", done);
    socket.on("error", done);
  });
}

// A busy answer must say when to come back.
function checkBusy(kind, r) {
  if ((r.status === 429 || r.status === 503) && !r.headers["retry-after"]) fail(`${kind}: ${r.status} without Retry-After`);
}

const auth = (key) => ({ authorization: `Bearer ${key}` });
const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"];
const text = (n) => Array.from({ length: n }, () => pick(words)).join(" ");

// Valid traffic: what a paying customer sends. Non-stream and streamed (with usage), chat and
// completions, several choices, and clients that go away mid-stream.
async function validOnce() {
  const chat = Math.random() < 0.7;
  const stream = Math.random() < 0.5;
  const n = Math.random() < 0.2 ? 2 : 1;
  const body = { model, max_tokens: rand(4, 40), temperature: Math.random() < 0.5 ? 0 : 0.8, n, stream };
  if (chat) body.messages = [{ role: "user", content: text(rand(3, 60)) }];
  else body.prompt = text(rand(3, 60));
  if (stream) body.stream_options = { include_usage: true };
  const route = chat ? "/v1/chat/completions" : "/v1/completions";
  const leave = stream && Math.random() < 0.2;
  const kind = `${chat ? "chat" : "completion"}${stream ? "-stream" : ""}${leave ? "-leave" : ""}`;
  const r = await request("POST", route, { body, headers: auth(userKey), abortAfter: leave ? rand(1, 4) : undefined });
  if (r.error) { fail(`${kind}: ${r.error}`); count(stats.valid, `${kind}:${r.error}`); return; }
  count(stats.valid, `${kind}:${r.status}`);
  checkBusy(kind, r);
  if (r.status !== 200) {
    if (r.status !== 429 && r.status !== 503) fail(`${kind}: status ${r.status} ${r.body.slice(0, 200)}`);
    return;
  }
  if (!stream) {
    const j = JSON.parse(r.body);
    delivered.set(j.id, { prompt: j.usage.prompt_tokens, completion: j.usage.completion_tokens, status: "ok" });
    return;
  }
  const events = r.body.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  const first = events.find((e) => e !== "[DONE]");
  if (!first) return;  // left before the first chunk
  const id = JSON.parse(first).id;
  if (leave) {
    if (!events.includes("[DONE]")) delivered.set(id, { status: "aborted" });
    return;
  }
  if (events[events.length - 1] !== "[DONE]") { fail(`${kind}: stream without [DONE]`); return; }
  const last = JSON.parse(events[events.length - 2]);
  if (last.error) { fail(`${kind}: error event ${JSON.stringify(last.error)}`); return; }
  delivered.set(id, { prompt: last.usage.prompt_tokens, completion: last.usage.completion_tokens, status: "ok" });
}

// Hostile traffic: what a careless or malicious client sends. Each answer must be a clean
// 4xx (or 503 with Retry-After); the server must stay up and /health fast throughout.
const manyKeys = () => {
  const keys = [];
  for (let i = 0; i < 100000; ++i) keys.push(`"k${i}":0`);
  return `{"model":"${model}","prompt":"hi","max_tokens":1,"ignored":{${keys.join(",")}}}`;
};
const hostile = {
  "bad-json": () => request("POST", "/v1/chat/completions", { body: '{"messages": [', headers: auth(userKey) }),
  "deep-json": () => request("POST", "/v1/completions", { body: "[".repeat(100000), headers: auth(userKey) }),
  "many-keys": () => request("POST", "/v1/completions", { body: manyKeys(), headers: auth(userKey) }),
  "invalid-utf8": () => request("POST", "/v1/completions", {
    body: Buffer.concat([Buffer.from(`{"model":"${model}","max_tokens":2,"prompt":"`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]),
    headers: auth(userKey) }),
  "too-big": () => request("POST", "/v1/completions", { body: "x".repeat(9 << 20), headers: auth(userKey) }),
  "no-key": () => request("POST", "/v1/completions", { body: { model, prompt: "hi", max_tokens: 2 } }),
  "bad-key": () => request("POST", "/v1/completions", { body: { model, prompt: "hi", max_tokens: 2 }, headers: auth("mxk-nope") }),
  "mint-admin-without-key": () => request("POST", "/admin/keys", { body: { name: "evil", admin: true } }),
  "admin-with-user-key": () => request("GET", "/admin/keys", { headers: auth(userKey) }),
  "n16-huge": () => request("POST", "/v1/completions", { body: { model, prompt: text(20), n: 16, max_tokens: 1000000 }, headers: auth(userKey) }),
  "bad-values": () => request("POST", "/v1/chat/completions", { body: { model, messages: [{ role: "user", content: 5 }], temperature: 9, n: 0 }, headers: auth(userKey) }),
  "smuggle": () => raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${userKey}\r\nTransfer-Encoding: chunked, gzip\r\n\r\nGET /admin/keys HTTP/1.1\r\nHost: x\r\n\r\n`),
  "cl-te": () => raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
  "garbage": () => raw(Buffer.from(Array.from({ length: 2000 }, () => rand(0, 255)))),
  "huge-header": () => raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-A: ${"a".repeat(64 << 10)}\r\n\r\n`),
  "disconnect-mid-request": () => raw(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"pro`, { timeoutMs: 200 }),
  "disconnect-mid-stream": () => request("POST", "/v1/completions", {
    body: { model, prompt: text(30), max_tokens: 64, stream: true }, headers: auth(userKey), abortAfter: 1 }),
  "half-close": () => raw(`GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${userKey}\r\nConnection: close\r\n\r\n`, { halfClose: true }),
  "slowloris": async () => {  // a byte a second for a few seconds, then gone
    const socket = net.connect(Number(base.port), base.hostname);
    socket.on("error", () => {});
    const line = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 5 && Date.now() < deadline; ++i) { socket.write(line[i]); await sleep(1000); }
    socket.destroy();
    return { status: "slow" };
  },
  "connection-burst": async () => {  // 300 sockets opened and dropped at once
    const sockets = Array.from({ length: 300 }, () => { const s = net.connect(Number(base.port), base.hostname); s.on("error", () => {}); return s; });
    await sleep(500);
    sockets.forEach((s) => s.destroy());
    return { status: "burst" };
  },
};

async function hostileOnce() {
  const name = pick(Object.keys(hostile));
  const r = await hostile[name]();
  if (typeof r === "string") {  // raw: the status line, if any
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(r);
    const status = m ? Number(m[1]) : "none";
    count(stats.hostile, `${name}:${status}`);
    if (status !== "none" && status >= 500 && status !== 503) fail(`${name}: status ${status}`);
    if (name === "smuggle" && /HTTP\/1\.1 200/.test(r)) fail("smuggle: a smuggled request was answered 200");
    return;
  }
  if (r.error) { count(stats.hostile, `${name}:${r.error}`); return; }
  count(stats.hostile, `${name}:${r.status}`);
  if (typeof r.status === "number") {
    checkBusy(name, r);
    if (r.status >= 500 && r.status !== 503) fail(`${name}: status ${r.status} ${r.body.slice(0, 200)}`);
    if (name === "mint-admin-without-key" && r.status < 400) fail("an admin key was minted without a key");
  }
}

async function loop(fn) { while (Date.now() < deadline) await fn(); }

async function healthProbe() {
  while (Date.now() < deadline) {
    const t0 = process.hrtime.bigint();
    const r = await request("GET", "/health", { timeoutMs: 5000 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status === 200) stats.health_ms.push(ms); else ++stats.health_failures;
    await sleep(100);
  }
}

async function rssProbe() {
  while (Date.now() < deadline) {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    stats.rss_kib.push(Number(/VmRSS:\s+(\d+)/.exec(status)[1]));
    await sleep(1000);
  }
}

async function metricValues() {
  const r = await request("GET", "/metrics", { headers: auth(adminKey) });
  const values = {};
  for (const line of (r.body ?? "").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return values;
}

// After the traffic: nothing running, no KV block held, every delivered response in the ledger
// with the counts its client was told, no record left open.
async function endChecks() {
  const idleBy = Date.now() + 60000;
  let m = {};
  for (;;) {
    m = await metricValues();
    if (m.mxserve_requests_active === 0 && m.mxserve_sequences_running === 0 && m.mxserve_sequences_waiting === 0 && m.mxserve_kv_blocks_used === 0) break;
    if (Date.now() > idleBy) { fail(`not idle 60 s after the traffic: ${JSON.stringify({ active: m.mxserve_requests_active, running: m.mxserve_sequences_running, waiting: m.mxserve_sequences_waiting, kv_used: m.mxserve_kv_blocks_used })}`); break; }
    await sleep(200);
  }
  await sleep(1000);  // the ledger writer commits in batches
  const r = await request("GET", "/admin/usage/records?include_open=true", { headers: auth(adminKey) });
  const records = new Map(JSON.parse(r.body).data.map((x) => [x.request_id, x]));
  let open = 0, missing = 0, mismatched = 0;
  for (const x of records.values()) if (x.status === "open") ++open;
  for (const [id, want] of delivered) {
    const got = records.get(id);
    if (!got) { ++missing; fail(`ledger: no record for ${id}`); continue; }
    if (want.status === "aborted") {
      if (got.status !== "aborted" && got.status !== "ok") { ++mismatched; fail(`ledger: ${id} is ${got.status}`); }
    } else if (got.status !== "ok" || got.prompt_tokens !== want.prompt || got.completion_tokens !== want.completion) {
      ++mismatched;
      fail(`ledger: ${id} says ${got.status} ${got.prompt_tokens}+${got.completion_tokens}, client got ${want.prompt}+${want.completion}`);
    }
  }
  if (open) fail(`ledger: ${open} records still open`);
  return { records: records.size, delivered: delivered.size, open, missing, mismatched,
    kv_blocks_used: m.mxserve_kv_blocks_used, kv_blocks_total: m.mxserve_kv_blocks_total };
}

const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null; };

const t0 = Date.now();
await Promise.all([
  healthProbe(), rssProbe(),
  ...Array.from({ length: validWorkers }, () => loop(validOnce)),
  ...Array.from({ length: hostileWorkers }, () => loop(hostileOnce)),
]);
let alive = true;
try { process.kill(pid, 0); } catch { alive = false; fail("the server died"); }
const end = alive ? await endChecks() : {};
const rss = stats.rss_kib;
const result = {
  duration_s: (Date.now() - t0) / 1000,
  health: { probes: stats.health_ms.length, failures: stats.health_failures,
    p50_ms: quantile(stats.health_ms, 0.5), p99_ms: quantile(stats.health_ms, 0.99), max_ms: quantile(stats.health_ms, 1) },
  rss_mib: { first: rss[0] / 1024, max: Math.max(...rss) / 1024, last: rss[rss.length - 1] / 1024,
    max_second_half: Math.max(...rss.slice(Math.floor(rss.length / 2))) / 1024 },
  valid: stats.valid, hostile: stats.hostile, end, failures: stats.failures,
};
if (result.health.p99_ms > 100) fail(`/health p99 ${result.health.p99_ms} ms > 100 ms`);
if (stats.health_failures) fail(`${stats.health_failures} /health probes failed`);
// Bounded: no growth trend once warm (the second half's peak within the first half's + 25%).
const firstHalfMax = Math.max(...rss.slice(0, Math.max(1, Math.floor(rss.length / 2)))) / 1024;
if (result.rss_mib.max_second_half > firstHalfMax * 1.25 + 64) fail(`RSS grew: ${firstHalfMax} MiB → ${result.rss_mib.max_second_half} MiB`);
result.failures = stats.failures;
result.ok = stats.failures.length === 0;
if (process.env.OUT) fs.writeFileSync(process.env.OUT, JSON.stringify(result, null, 2));
console.log(JSON.stringify(result, null, 2));
process.exit(result.ok ? 0 : 1);
