// Report of bench/ledger_overhead.sh: per variant, medians over the rounds of the loadgen
// figures and of the ledger wait (mxserve_ledger_wait_seconds), and the ratios against the
// no-ledger variant. Usage: node bench/ledger_report.mjs --raw DIR --variants "a b" --rounds N
//   --model PATH --out FILE
import fs from "node:fs";
import path from "node:path";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const variants = args.variants.split(" ");
const rounds = Number(args.rounds);

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

// {sum, count} of mxserve_ledger_wait_seconds in a Prometheus text dump.
function ledgerWait(text) {
  const get = (name) => {
    const line = text.split("\n").find((l) => l.startsWith(name + " "));
    return line ? Number(line.split(" ")[1]) : 0;
  };
  return { sum: get("mxserve_ledger_wait_seconds_sum"), count: get("mxserve_ledger_wait_seconds_count") };
}

const result = { benchmark: "ledger_overhead", date: new Date().toISOString(), model: args.model,
                 variants: {} };
for (const variant of variants) {
  const runs = [];
  for (let round = 1; round <= rounds; round++) {
    const level = JSON.parse(fs.readFileSync(path.join(args.raw, `${variant}.${round}.json`))).levels[0];
    const wait = ledgerWait(fs.readFileSync(path.join(args.raw, `${variant}.${round}.metrics`), "utf8"));
    runs.push({
      round, output_tok_s: level.output_tok_s, errors: level.errors,
      ttft_p50_ms: level.ttft_ms.p50, tpot_p50_ms: level.tpot_ms.p50,
      e2e_p50_ms: level.e2e_ms.p50, e2e_mean_ms: level.e2e_ms.mean,
      ledger_waits: wait.count,
      ledger_wait_mean_ms: wait.count ? (wait.sum / wait.count) * 1e3 : 0,
    });
  }
  const med = (key) => median(runs.map((r) => r[key]));
  result.variants[variant] = {
    runs,
    medians: {
      output_tok_s: med("output_tok_s"), ttft_p50_ms: med("ttft_p50_ms"),
      tpot_p50_ms: med("tpot_p50_ms"), e2e_p50_ms: med("e2e_p50_ms"),
      ledger_wait_mean_ms: med("ledger_wait_mean_ms"),
      // The wait of a request's last chunk over its end-to-end time.
      ledger_added_fraction: med("ledger_wait_mean_ms") / med("e2e_mean_ms"),
    },
  };
}
const base = result.variants["no-ledger"].medians;
for (const variant of variants.filter((v) => v !== "no-ledger")) {
  const m = result.variants[variant].medians;
  m.vs_no_ledger = {
    output_tok_s: m.output_tok_s / base.output_tok_s, ttft_p50: m.ttft_p50_ms / base.ttft_p50_ms,
    tpot_p50: m.tpot_p50_ms / base.tpot_p50_ms, e2e_p50: m.e2e_p50_ms / base.e2e_p50_ms,
  };
  console.log(`${variant}: ledger wait mean ${m.ledger_wait_mean_ms.toFixed(2)} ms = ` +
              `${(100 * m.ledger_added_fraction).toFixed(3)}% of end-to-end; client view vs ` +
              `no-ledger: e2e p50 x${m.vs_no_ledger.e2e_p50.toFixed(3)}, tok/s ` +
              `x${m.vs_no_ledger.output_tok_s.toFixed(3)}`);
}
fs.writeFileSync(args.out, JSON.stringify(result, null, 2) + "\n");
