// The /dashboard page in headless Chromium against a running mxserve (tests/e2e/test_dashboard.sh).
// Opens the page with the admin key, sends completions with a normal key while it polls, then
// checks the data the charts draw (window.mxDashboard) against the server's own answers
// (/v1/usage) and against the usage the client got back. Every expected number comes from the
// server. The admin key sends one completion too, so that two keys have usage and the per-key
// series must tell them apart. A wrong key and a non-admin key must show the error banner.
//
// Environment: MX_BASE_URL, MX_ADMIN_KEY, MX_ADMIN_KEY_ID, MX_USER_KEY, MX_USER_KEY_ID, MX_MODEL,
// MX_TEST_ARTIFACTS_DIR (screenshots), MX_CHROMIUM (default /usr/bin/chromium).
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
};
const baseUrl = env("MX_BASE_URL");
const adminKey = env("MX_ADMIN_KEY");
const adminKeyId = env("MX_ADMIN_KEY_ID");
const userKey = env("MX_USER_KEY");
const userKeyId = env("MX_USER_KEY_ID");
const model = env("MX_MODEL");
const artifacts = env("MX_TEST_ARTIFACTS_DIR", "build/test-artifacts");
const chromiumPath = env("MX_CHROMIUM", "/usr/bin/chromium");
const USER_COMPLETIONS = 6;   // requests sent with the normal key, 2 at a time
const SETTLE_MS = 30000;      // how long the page may take to show them

const failures = [];
function check(condition, message) {
  console.log(`${condition ? "ok  " : "FAIL"} ${message}`);
  if (!condition) failures.push(message);
}

async function api(route, { key = adminKey, body } = {}) {
  const response = await fetch(`${baseUrl}${route}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

// Completions and chat completions with one key; returns the summed usage the client got back.
async function sendCompletions(key, count) {
  const sums = { prompt: 0, completion: 0, cached: 0, requests: 0 };
  const one = async (i) => {
    const answer = i % 2
      ? await api("/v1/chat/completions", { key, body: {
          model, max_tokens: 8 + i, messages: [{ role: "user", content: `Dashboard check number ${i}.` }] } })
      : await api("/v1/completions", { key, body: {
          model, max_tokens: 8 + i, prompt: `The dashboard test sends prompt ${i} and` } });
    if (!answer.usage) throw new Error(`no usage in the answer to request ${i}`);
    sums.prompt += answer.usage.prompt_tokens;
    sums.completion += answer.usage.completion_tokens;
    sums.cached += answer.usage.prompt_tokens_details?.cached_tokens ?? 0;
    sums.requests += 1;
  };
  for (let i = 0; i < count; i += 2) await Promise.all([one(i), ...(i + 1 < count ? [one(i + 1)] : [])]);
  return sums;
}

function addSums(a, b) {
  return Object.fromEntries(Object.keys(a).map((field) => [field, a[field] + b[field]]));
}

const sumPoints = (series) => series.points.reduce((sum, point) => sum + point[1], 0);
const seriesNamed = (chart, name) => chart.series.find((s) => s.name === name);
const closeTo = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

async function openDashboard(browser, key) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.pageErrors = [];
  page.on("pageerror", (error) => page.pageErrors.push(error.message));
  await page.goto(`${baseUrl}/dashboard#key=${encodeURIComponent(key)}&interval=1`);
  return page;
}

async function checkAdminView(browser) {
  const page = await openDashboard(browser, adminKey);
  try {
    await page.waitForFunction(() => window.mxDashboard?.lastUpdate > 0, null, { timeout: 20000 });
    check(!page.url().includes("key="), "the key leaves the address bar once read");
    const first = await page.evaluate(() => window.mxDashboard.errors);
    check(first.length === 0, `the admin key gets every answer (errors: ${JSON.stringify(first)})`);

    const byKeySent = { [userKeyId]: await sendCompletions(userKey, USER_COMPLETIONS),
                        [adminKeyId]: await sendCompletions(adminKey, 1) };
    const sent = addSums(byKeySent[userKeyId], byKeySent[adminKeyId]);
    console.log(`sent ${sent.requests} requests: ${sent.prompt} prompt tokens (${sent.cached} cached), ` +
                `${sent.completion} completion tokens`);

    // Until the page shows all of it (the ledger may settle a moment after the answers).
    const shown = await page.waitForFunction(({ model, total }) => {
      const d = window.mxDashboard;
      const byModel = d.charts.usage_tokens_by_model.series.find((s) => s.name === model);
      const modelTotal = byModel ? byModel.points.reduce((sum, p) => sum + p[1], 0) : 0;
      const outputRate = d.charts.tokens_per_second.series.find((s) => s.name === "output tokens/s");
      return modelTotal === total && outputRate.points.some((p) => p[1] > 0);
    }, { model, total: sent.prompt + sent.completion }, { timeout: SETTLE_MS }).then(() => true, () => false);
    check(shown, `the page shows the new usage and a positive output rate within ${SETTLE_MS / 1000} s`);

    const data = await page.evaluate(() => window.mxDashboard);
    const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");  // as the page sends it
    const range = `from=${iso(data.usage.from_ms)}&to=${iso(data.usage.to_ms)}`;
    const [byModel, byKey, keys] = await Promise.all([
      api(`/v1/usage?group_by=model&${range}`), api(`/v1/usage?group_by=key&${range}`), api("/admin/keys"),
    ]);
    checkUsage(data, byModel, byKey, sent, byKeySent);
    checkLive(data);
    await checkTables(page, byModel, keys);
    await checkParser(page);
    check(page.pageErrors.length === 0, `no script errors in the page (${page.pageErrors.join("; ")})`);
  } finally {
    await page.screenshot({ path: path.join(artifacts, "dashboard.png"), fullPage: true });
    await page.context().close();
  }
}

function checkUsage(data, byModel, byKey, sent, byKeySent) {
  const charts = data.charts;
  const modelRow = byModel.data.find((row) => row.model === model);
  check(modelRow !== undefined, `GET /v1/usage?group_by=model has a row for ${model}`);
  if (!modelRow) return;
  const apiTokens = modelRow.prompt_tokens + modelRow.completion_tokens;
  const clientTokens = sent.prompt + sent.completion;
  check(modelRow.prompt_tokens === sent.prompt && modelRow.completion_tokens === sent.completion,
        `/v1/usage's ${model} row (${modelRow.prompt_tokens} + ${modelRow.completion_tokens}) ` +
        `equals the client's usage (${sent.prompt} + ${sent.completion})`);
  check(modelRow.requests === sent.requests, `/v1/usage counts ${modelRow.requests} requests, sent ${sent.requests}`);

  const modelNames = charts.usage_tokens_by_model.series.map((s) => s.name).sort();
  const apiModels = byModel.data.map((row) => row.model).sort();
  check(JSON.stringify(modelNames) === JSON.stringify(apiModels),
        `the per-model chart has one series per model of /v1/usage (${modelNames} vs ${apiModels})`);
  const modelSeries = seriesNamed(charts.usage_tokens_by_model, model);
  const chartTokens = modelSeries ? sumPoints(modelSeries) : NaN;
  check(chartTokens === apiTokens && chartTokens === clientTokens,
        `per-model chart tokens (${chartTokens}) = /v1/usage (${apiTokens}) = client usage (${clientTokens})`);
  const costSeries = seriesNamed(charts.usage_cost_by_model, model);
  check(costSeries && closeTo(sumPoints(costSeries), modelRow.cost),
        `per-model cost chart (${costSeries && sumPoints(costSeries)}) = /v1/usage cost (${modelRow.cost})`);

  const hourly = Object.fromEntries(charts.usage_tokens_hourly.series.map((s) => [s.name, sumPoints(s)]));
  const hourlyPrompt = hourly["prompt (uncached)"] + hourly["prompt (cached)"];
  check(hourlyPrompt === sent.prompt && hourly.completion === sent.completion,
        `hourly chart: prompt ${hourlyPrompt} and completion ${hourly.completion} tokens equal the client's`);
  check(hourly["prompt (cached)"] === modelRow.cached_tokens,
        `hourly chart: cached ${hourly["prompt (cached)"]} = /v1/usage cached ${modelRow.cached_tokens}`);

  for (const [keyId, keySent] of Object.entries(byKeySent)) {
    const keyRow = byKey.data.find((row) => row.key_id === keyId);
    const keySeries = charts.usage_tokens_by_key.series.find((s) => s.key_id === keyId);
    const apiKeyTokens = keyRow ? keyRow.prompt_tokens + keyRow.completion_tokens : NaN;
    const chartKeyTokens = keySeries ? sumPoints(keySeries) : NaN;
    check(chartKeyTokens === apiKeyTokens && chartKeyTokens === keySent.prompt + keySent.completion,
          `per-key chart for ${keyId} (${chartKeyTokens}) = /v1/usage group_by=key (${apiKeyTokens}) ` +
          `= client usage (${keySent.prompt + keySent.completion})`);
  }
  check(charts.usage_tokens_by_key.series.length === byKey.data.length,
        `the per-key chart has one series per key with usage (${charts.usage_tokens_by_key.series.length} vs ${byKey.data.length})`);
  check(data.usage.totals && data.usage.totals.requests === byModel.totals.requests &&
        data.usage.totals.completion_tokens === byModel.totals.completion_tokens,
        "the page's totals are /v1/usage's totals");
}

function checkLive(data) {
  const charts = data.charts;
  const output = seriesNamed(charts.tokens_per_second, "output tokens/s").points;
  check(output.some((p) => p[1] > 0) && output.every((p) => p[1] >= 0),
        `output tokens/s: a positive point and none negative (${JSON.stringify(output.map((p) => +p[1].toFixed(1)))})`);
  const kv = seriesNamed(charts.kv_usage, "used / total").points;
  check(kv.length > 0 && kv.every((p) => p[1] >= 0 && p[1] <= 1), `KV use within [0, 1] (${kv.length} points)`);
  const hitRate = seriesNamed(charts.prefix_cache_hit_rate, "hit rate").points;
  check(hitRate.length > 0 && hitRate.every((p) => p[1] >= 0 && p[1] <= 1), "prefix-cache hit rate within [0, 1]");
  for (const chartId of ["ttft_ms", "tpot_ms"]) {
    const mean = seriesNamed(charts[chartId], "mean").points;
    const p50 = new Map(seriesNamed(charts[chartId], "p50").points);
    const p99 = seriesNamed(charts[chartId], "p99").points;
    check(mean.some((p) => p[1] > 0), `${chartId}: a positive mean after the requests`);
    check(p99.length > 0 && p99.every(([x, y]) => p50.has(x) && p50.get(x) <= y && p50.get(x) >= 0),
          `${chartId}: 0 <= p50 <= p99 at every point`);
  }
  const running = seriesNamed(charts.sequences, "running").points;
  check(running.length > 0 && running.every((p) => Number.isInteger(p[1]) && p[1] >= 0),
        "running sequences are counts");
}

async function checkTables(page, byModel, keys) {
  const modelRows = await page.$$eval("#models-table tbody tr",
    (rows) => rows.map((row) => [...row.cells].map((c) => c.textContent)));
  const row = modelRows.find((cells) => cells[0] === model);
  const modelRow = byModel.data.find((r) => r.model === model);
  check(row && row[4] === modelRow.completion_tokens.toLocaleString("en-US"),
        `the models table shows ${model}'s completion tokens (${row && row[4]})`);
  const keyCells = await page.$$eval("#keys-table tbody tr td:first-child", (cells) => cells.map((c) => c.textContent));
  check(keys.data.every((k) => keyCells.some((text) => text.includes(k.id))),
        `the keys table lists every key of /admin/keys (${keys.data.length})`);
}

// The page's Prometheus parser and histogram math on a fixed text (values worked out by hand),
// then on the server's own /metrics against a plain line split of its unlabelled samples.
const PARSER_SAMPLE = [
  "# HELP mx_lat A latency.", "# TYPE mx_lat histogram",
  'mx_lat_bucket{le="0.1"} 2', 'mx_lat_bucket{le="1"} 6', 'mx_lat_bucket{le="+Inf"} 8',
  "mx_lat_sum 7.5", "mx_lat_count 8", "# a comment", "",
  String.raw`mx_odd{path="/a\"b\\c",note="x\ny"} NaN`, "mx_big +Inf 1700000000000", "mx_neg -Inf",
  "mx_fmt_nan nan", "mx_fmt_inf inf", "mx_sci 1.5e3", "not a valid line {",
].join("\n");

async function checkParser(page) {
  const got = await page.evaluate((text) => {
    const parsed = parsePrometheus(text);
    const value = (name) => String(metricValue(parsed, name));
    const histogram = readHistogram(parsed, "mx_lat");
    const earlier = { buckets: [{ le: 0.1, count: 1 }, { le: 1, count: 1 }, { le: Infinity, count: 1 }], sum: 0.5, count: 1 };
    return {
      samples: parsed.samples.length,
      values: ["mx_sci", "mx_big", "mx_neg", "mx_odd", "mx_fmt_nan", "mx_fmt_inf"].map(value),
      labels: parsed.samples.find((s) => s.name === "mx_odd").labels,
      buckets: histogram.buckets.map((b) => [String(b.le), b.count]),
      sumCount: [histogram.sum, histogram.count],
      quantiles: [0.25, 0.5, 0.99].map((q) => histogramQuantile(q, histogram.buckets)),
      delta: histogramDelta(histogram, earlier).buckets.map((b) => b.count),
      empty: histogramQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]),
    };
  }, PARSER_SAMPLE);
  const expected = {
    samples: 11,
    values: ["1500", "Infinity", "-Infinity", "NaN", "NaN", "Infinity"],
    labels: { path: '/a"b\\c', note: "x\ny" },
    buckets: [["0.1", 2], ["1", 6], ["Infinity", 8]],
    sumCount: [7.5, 8],
    quantiles: [0.1, 0.55, 1],
    delta: [1, 5, 7],
    empty: null,
  };
  for (const [field, want] of Object.entries(expected)) {
    const have = got[field];
    const same = field === "quantiles"
      ? have.every((v, i) => Math.abs(v - want[i]) < 1e-12)
      : JSON.stringify(have) === JSON.stringify(want);
    check(same, `parser: ${field} ${JSON.stringify(have)} (expected ${JSON.stringify(want)})`);
  }

  const text = await (await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).text();
  const plain = text.split("\n").filter((line) => line && !line.startsWith("#") && !line.includes("{"))
    .map((line) => line.split(" ")).map(([name, value]) => [name, String(Number(value))]);
  const parsed = await page.evaluate((metrics) => {
    const samples = parsePrometheus(metrics).samples.filter((s) => !Object.keys(s.labels).length);
    return samples.map((s) => [s.name, String(s.value)]);
  }, text);
  check(plain.length > 0 && JSON.stringify(parsed) === JSON.stringify(plain),
        `parser: the server's ${plain.length} unlabelled samples read the same as a plain split`);
  const names = new Set(plain.map(([name]) => name));
  const needed = ["mxserve_generated_tokens_total", "mxserve_prompt_tokens_total",
    "mxserve_time_to_first_token_seconds_count", "mxserve_time_per_output_token_seconds_sum",
    "mxserve_kv_blocks_used", "mxserve_kv_blocks_total", "mxserve_prefix_cache_hit_rate",
    "mxserve_sequences_running", "mxserve_sequences_waiting", "mxserve_requests_active"];
  const missing = needed.filter((name) => !names.has(name));
  check(missing.length === 0, `the server exports every metric the page draws (missing: ${missing})`);
}

// A key the server does not know, and a valid key that is not an admin key.
async function checkErrorBanner(browser, key, label, statuses, screenshot) {
  const page = await openDashboard(browser, key);
  try {
    const visible = await page.waitForSelector("#error-banner:not([hidden])", { timeout: 15000 })
      .then(() => true, () => false);
    check(visible, `${label}: the error banner shows`);
    const errors = await page.evaluate(() => window.mxDashboard.errors);
    const text = visible ? await page.textContent("#error-banner") : "";
    check(errors.some((e) => statuses.includes(e.status)) && statuses.some((s) => text.includes(String(s))),
          `${label}: the banner names HTTP ${statuses.join(" or ")} (${text.slice(0, 160)})`);
    check(page.pageErrors.length === 0, `${label}: no script errors (${page.pageErrors.join("; ")})`);
  } finally {
    if (screenshot) await page.screenshot({ path: path.join(artifacts, screenshot), fullPage: true });
    await page.context().close();
  }
}

fs.mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: chromiumPath });
try {
  await checkAdminView(browser);
  await checkErrorBanner(browser, "mxk-not-a-key-of-this-server", "wrong key", [401], "dashboard-wrong-key.png");
  await checkErrorBanner(browser, userKey, "non-admin key", [401, 403], null);
} catch (error) {
  failures.push(`stopped: ${error.stack || error}`);
  console.log(`FAIL stopped: ${error.stack || error}`);
} finally {
  await browser.close();
}
console.log(`screenshots in ${artifacts}`);
if (failures.length) {
  console.log(`\n${failures.length} check(s) failed:\n - ${failures.join("\n - ")}`);
  process.exit(1);
}
console.log("dashboard: all checks passed");
