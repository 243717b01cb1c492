#!/usr/bin/env python3
"""Summarizes bench/spec_decode.sh's raw runs into one JSON result (and a table on stderr).

Per workload and concurrency level and per variant (none, ngram or mtp: --method): medians over the rounds of
output tokens/s, e2e latency p50, TPOT p50; from the /metrics counter deltas of the level:
acceptance rate (accepted / draft tokens) and tokens per sampling step (generated / steps).
"""
import argparse
import json
import os
import statistics
import sys


def counters(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def delta(raw, tag, name):
    before = counters(os.path.join(raw, tag + ".before.prom"))
    after = counters(os.path.join(raw, tag + ".after.prom"))
    return after.get(name, 0.0) - before.get(name, 0.0)


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def variant_summary(raw, spec, workload, c, rounds):
    tok_s, e2e, tpot, accept, per_step, short = [], [], [], [], [], 0
    for r in range(1, rounds + 1):
        tag = f"{spec}.{workload}.c{c}.{r}"
        with open(os.path.join(raw, tag + ".json")) as f:
            level = json.load(f)["levels"][0]
        if level["errors"]:
            sys.exit(f"error: {tag}: {level['errors']} failed requests: {level['error_samples']}")
        short += level["short_outputs"]
        tok_s.append(level["output_tok_s"])
        e2e.append(level["e2e_ms"]["p50"])
        tpot.append(level["tpot_ms"]["p50"])
        drafts = delta(raw, tag, "mxserve_spec_draft_tokens_total")
        accepted = delta(raw, tag, "mxserve_spec_accepted_tokens_total")
        steps = delta(raw, tag, "mxserve_sampling_steps_total")
        generated = delta(raw, tag, "mxserve_engine_generated_tokens_total")
        accept.append(accepted / drafts if drafts > 0 else None)
        per_step.append(generated / steps if steps > 0 else None)
    return {
        "output_tok_s": median(tok_s), "output_tok_s_rounds": tok_s,
        "e2e_ms_p50": median(e2e), "tpot_ms_p50": median(tpot),
        "acceptance_rate": median(accept), "tokens_per_step": median(per_step),
        "short_outputs": short,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--workloads", required=True)
    ap.add_argument("--concurrency", required=True)
    ap.add_argument("--settings", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--method", default="ngram", help="the speculative variant (ngram, mtp)")
    a = ap.parse_args()
    m = a.method
    result = {
        "tool": "mxserve bench/spec_decode.sh",
        "model": a.model,
        "settings": json.loads(a.settings),
        "commands": {s: open(os.path.join(a.raw, s + ".cmd")).read().strip() for s in ("none", m)},
        "loadavg_at_end": os.getloadavg(),
        "note": "indicative when the machine was busy (other builds); medians over rounds",
        "results": [],
    }
    print(f"{'workload':8} {'c':>3} {'none tok/s':>10} {m + ' tok/s':>11} {'speed-up':>8} "
          f"{'e2e none':>9} {'e2e ' + m:>9} {'accept':>7} {'tok/step':>8}", file=sys.stderr)
    for workload in a.workloads.split():
        for c in a.concurrency.split():
            none = variant_summary(a.raw, "none", workload, c, a.rounds)
            ngram = variant_summary(a.raw, m, workload, c, a.rounds)
            speedup = (round(ngram["output_tok_s"] / none["output_tok_s"], 3)
                       if none["output_tok_s"] else None)
            result["results"].append({"workload": workload, "concurrency": int(c), "none": none,
                                      m: ngram, "speedup_output_tok_s": speedup})
            print(f"{workload:8} {c:>3} {none['output_tok_s']:>10} {ngram['output_tok_s']:>11} "
                  f"{speedup:>8} {none['e2e_ms_p50']:>9} {ngram['e2e_ms_p50']:>9} "
                  f"{ngram['acceptance_rate']!s:>7.5} {ngram['tokens_per_step']!s:>8.5}",
                  file=sys.stderr)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
