"""Cache-aware routing vs least-load vs round-robin (issue 15, "Done when"): a multi-tenant
workload — TENANTS long system prompts, more than one worker's KV cache holds, fewer than all
workers' together; many users each asking a short question after one of them — through
`mxserve frontend` in front of WORKERS workers with a small KV cache each, once per policy, and
once through ONE worker with all the workers' KV memory (the hit-rate ceiling). Reports, per
configuration: the prefix-cache hit rate (blocks, from every worker's /metrics: hits / queries
over the measured requests), the cached share of prompt tokens (the API's usage), and TTFT
p50 / p99 (first streamed token, client side). One compute thread per process.

Usage: cache_routing.py MXSERVE MODEL WORKDIR OUT.json  (settings: environment, see below)
"""
import json
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e", "cluster"))
from cluster_lib import Cluster, engine_gauges, wait_until, workers  # noqa: E402

mxserve, model, work, out_path = sys.argv[1:5]
env = os.environ.get
WORKERS = int(env("WORKERS", "2"))
# Per worker: 6 system prompts at the default sizes. The single worker gets WORKERS x this.
KV_MIB = int(env("KV_MIB", "18"))
TENANTS = int(env("TENANTS", "10"))
SYSTEM_TOKENS = int(env("SYSTEM_TOKENS", "1536"))
QUESTION_TOKENS = int(env("QUESTION_TOKENS", "16"))
OUTPUT_TOKENS = int(env("OUTPUT_TOKENS", "8"))
REQUESTS = int(env("REQUESTS", "600"))
CONCURRENCY = int(env("CONCURRENCY", "8"))
CONFIGS = env("CONFIGS", "cache,load,round-robin,one-worker").split(",")
SEED = int(env("SEED", "1"))
H = "127.0.0.1"


def workload():
    """The same requests for every configuration: (tenant, prompt token ids)."""
    rng = random.Random(SEED)
    systems = [[rng.randrange(1000, 30000) for _ in range(SYSTEM_TOKENS)]
               for _ in range(TENANTS)]
    requests = []
    for _ in range(REQUESTS):
        tenant = rng.randrange(TENANTS)
        question = [rng.randrange(1000, 30000) for _ in range(QUESTION_TOKENS)]
        requests.append((tenant, systems[tenant] + question))
    return requests


def stream_ttft(port, prompt):
    """Streams one completion; returns (ttft seconds, usage)."""
    import http.client
    body = {"prompt": prompt, "max_tokens": OUTPUT_TOKENS, "temperature": 0,
            "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    connection = http.client.HTTPConnection(H, port, timeout=300)
    start = time.perf_counter()
    connection.request("POST", "/v1/completions", json.dumps(body),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"answered {response.status}: {response.read().decode()}")
    ttft, usage = None, None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            raise RuntimeError(f"stream error: {event['error']}")
        if ttft is None and event.get("choices"):
            ttft = time.perf_counter() - start
        if event.get("usage"):
            usage = event["usage"]
    connection.close()
    return ttft, usage


def run_config(name, requests):
    cluster = Cluster(mxserve, os.path.join(work))
    n_workers = 1 if name == "one-worker" else WORKERS
    kv = KV_MIB * (WORKERS if name == "one-worker" else 1)
    engine = ["-m", model, "--threads", "1", "--kv-memory", f"{kv}MiB", "--ctx", "2048"]
    try:
        procs = []
        for i in range(n_workers):
            proc, port = cluster.start("worker", f"{name}-w{i}", *engine, "--listen", f"{H}:0")
            procs.append((proc, port))
        route = "cache" if name == "one-worker" else name
        _, fe = cluster.start("frontend", f"{name}-frontend", "-m", model, "--port", "0",
                              "--no-ledger", "--route", route, "--worker",
                              ",".join(f"{H}:{port}" for _, port in procs))
        wait_until(lambda: sum(w["state"] == "up" for w in workers(H, fe)) == n_workers, 30,
                   "workers up")
        before = [engine_gauges(H, p.metrics_port) for p, _ in procs]
        ttfts, prompt_tokens, cached_tokens, errors, records = [], [0], [0], [], []
        lock = threading.Lock()
        next_index = [0]

        def user():
            while True:
                with lock:
                    if next_index[0] >= len(requests):
                        return
                    index = next_index[0]
                    next_index[0] += 1
                try:
                    ttft, usage = stream_ttft(fe, requests[index][1])
                except Exception as error:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(error))
                    continue
                details = usage.get("prompt_tokens_details") or {}
                with lock:
                    ttfts.append(ttft)
                    prompt_tokens[0] += usage["prompt_tokens"]
                    cached_tokens[0] += details.get("cached_tokens", 0)
                    records.append((ttft, index, details.get("cached_tokens", 0)))
        started = time.perf_counter()
        threads = [threading.Thread(target=user) for _ in range(CONCURRENCY)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        after = [engine_gauges(H, p.metrics_port) for p, _ in procs]
    finally:
        cluster.stop_all()

    def delta(key):
        return [a[key] - b[key] for a, b in zip(after, before)]
    hits, queries = delta("mxserve_prefix_cache_hits_total"), delta(
        "mxserve_prefix_cache_queries_total")
    ttfts.sort()
    result = {
        "config": name, "workers": n_workers, "kv_mib_per_worker": kv,
        "requests": len(ttfts), "errors": len(errors), "error_examples": errors[:3],
        "prefix_hit_rate": round(sum(hits) / sum(queries), 4) if sum(queries) else None,
        "prefix_hits_per_worker": hits, "prefix_queries_per_worker": queries,
        "cached_prompt_share": round(cached_tokens[0] / prompt_tokens[0], 4)
        if prompt_tokens[0] else None,
        "ttft_p50_ms": round(1000 * statistics.median(ttfts), 1) if ttfts else None,
        "ttft_p99_ms": round(1000 * ttfts[min(len(ttfts) - 1, int(0.99 * len(ttfts)))], 1)
        if ttfts else None,
        "wall_s": round(wall, 2),
        # The 1% slowest first tokens: which request (order sent), its tenant, whether it was
        # that tenant's first request, and the prompt tokens it found cached.
        "slowest": [{"index": i, "tenant": requests[i][0], "ttft_ms": round(1000 * t, 1),
                     "first_of_tenant": all(requests[j][0] != requests[i][0] for j in range(i)),
                     "cached_tokens": c}
                    for t, i, c in sorted(records, reverse=True)[:max(1, len(records) // 100)]],
        "load_average_1m_after": float(open("/proc/loadavg").read().split()[0]),
    }
    print(json.dumps(result), file=sys.stderr)
    return result


requests = workload()
load_before = open("/proc/loadavg").read().split()[:3]
results = [run_config(name, requests) for name in CONFIGS]
by = {r["config"]: r for r in results}
summary = {}
if "cache" in by and "one-worker" in by and by["one-worker"]["prefix_hit_rate"]:
    summary["cache_hit_rate_vs_one_worker"] = round(
        by["cache"]["prefix_hit_rate"] / by["one-worker"]["prefix_hit_rate"], 3)
if "cache" in by and "round-robin" in by and by["cache"]["ttft_p50_ms"]:
    summary["round_robin_ttft_p50_over_cache"] = round(
        by["round-robin"]["ttft_p50_ms"] / by["cache"]["ttft_p50_ms"], 2)
report = {
    "benchmark": "cache_routing",
    "settings": {"workers": WORKERS, "kv_mib_per_worker": KV_MIB, "tenants": TENANTS,
                 "system_tokens": SYSTEM_TOKENS, "question_tokens": QUESTION_TOKENS,
                 "output_tokens": OUTPUT_TOKENS, "requests": REQUESTS,
                 "concurrency": CONCURRENCY, "seed": SEED, "threads_per_process": 1},
    "cpu": env("CPU_MODEL", ""), "model": os.path.basename(model),
    "load_average_before": [float(x) for x in load_before], "cpus": os.cpu_count(),
    "results": results, "summary": summary,
}
with open(out_path, "w") as f:
    json.dump(report, f, indent=2)
print(json.dumps(summary))
