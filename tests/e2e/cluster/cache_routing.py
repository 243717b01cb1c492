"""Cache-aware routing (issue 15, item 4): a frontend with --route cache in front of 2 workers
follows each worker's KV events (the KvEvents stream) in a prefix index, and sends requests
sharing a long prefix to the worker that cached it — proved by the workers' own /metrics
prefix-cache counters, not by the frontend's word — while the greedy text equals `serve`'s.
A worker restarted at the same address is followed again from a snapshot of its new cache.
Without the index (cached_prompt_tokens always 0) the router spreads them by load with a
random tie-break, and the other worker gets some of them (all 8 on one worker: p = 1/256).
Usage: cache_routing.py MXSERVE MODEL WORKDIR
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_lib import (Cluster, completion_text, engine_gauges, wait_until,  # noqa: E402
                         workers)

mxserve, model, work = sys.argv[1:4]
H = "127.0.0.1"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


# One request at a time everywhere, so serve and the chosen worker compute the same batches
# (a cached prefix, then the question) and greedy text compares exactly.
ENGINE = ["-m", model, "--threads", "1", "--kv-memory", "16MiB", "--ctx", "2048",
          "--block-size", "16"]
PREFIX = ("You are the support assistant of the Northwind cooperative. Answer briefly, cite the "
          "handbook section, never invent prices, and hand over to a human for refunds. " * 4)
QUESTIONS = ["Where is my order?", "How do I reset my password?", "Do you ship abroad?",
             "What are your hours?", "Can I change my address?", "Is there a warranty?",
             "How do refunds work?", "Who do I call?", "What is in section 4?"]
ROUTED_PREFIX_TTL = 5  # s: ClusterClientConfig::routed_prefix_ttl (guesses before events)

cluster = Cluster(mxserve, work)
try:
    _, serve_port = cluster.start("serve", "serve", *ENGINE, "--port", "0", "--no-ledger")
    w1, w1_port = cluster.start("worker", "w1", *ENGINE, "--listen", f"{H}:0")
    w2, w2_port = cluster.start("worker", "w2", *ENGINE, "--listen", f"{H}:0")
    _, fe = cluster.start("frontend", "frontend", "-m", model, "--port", "0", "--no-ledger",
                          "--worker", f"{H}:{w1_port},{H}:{w2_port}", "--route", "cache")
    wait_until(lambda: sum(x["state"] == "up" for x in workers(H, fe)) == 2, 20,
               "both workers up")
    by_address = {f"{H}:{w1_port}": w1, f"{H}:{w2_port}": w2}

    def body(question):
        return {"prompt": PREFIX + question, "max_tokens": 8, "temperature": 0}

    # The warm-up request caches the prefix on one worker; its KV events reach the index.
    reference, _ = completion_text(H, serve_port, body(QUESTIONS[0]))
    text, usage = completion_text(H, fe, body(QUESTIONS[0]))
    check(text == reference, f"warm-up: cluster {text!r} != serve {reference!r}")
    prompt_tokens = usage["prompt_tokens"]

    def indexed():
        return {x["address"]: x.get("prefix_blocks_indexed", -1) for x in workers(H, fe)}
    wait_until(lambda: sorted(indexed().values())[-1] > 0, 10,
               "the frontend's index to hold the warm worker's blocks (KV events)")
    counts = indexed()
    warm_address = max(counts, key=counts.get)
    cold_address = min(counts, key=counts.get)
    check(counts[cold_address] == 0, f"the idle worker has indexed blocks: {counts}")
    check(counts[warm_address] >= prompt_tokens // 16 - 1,
          f"index holds {counts[warm_address]} blocks, the prompt has {prompt_tokens // 16}")
    warm, cold = by_address[warm_address], by_address[cold_address]
    # Past the frontend's guesses about routed prefixes: from now on only events route.
    time.sleep(ROUTED_PREFIX_TTL + 1)

    before = {p: engine_gauges(H, p.metrics_port) for p in (warm, cold)}
    for question in QUESTIONS[1:]:
        reference, _ = completion_text(H, serve_port, body(question))
        text, _ = completion_text(H, fe, body(question))
        check(text == reference, f"{question!r}: cluster {text!r} != serve {reference!r}")
    after = {p: engine_gauges(H, p.metrics_port) for p in (warm, cold)}

    def delta(proc, name):
        return after[proc][name] - before[proc][name]
    n = len(QUESTIONS) - 1
    prefix_blocks = counts[warm_address]
    hits = delta(warm, "mxserve_prefix_cache_hits_total")
    cold_queries = delta(cold, "mxserve_prefix_cache_queries_total")
    print(f"{n} requests sharing a {prompt_tokens}-token prompt prefix: warm worker "
          f"{warm_address} +{hits:.0f} prefix hits (blocks), cold worker {cold_address} "
          f"+{cold_queries:.0f} prefix queries")
    check(cold_queries == 0, f"the cold worker got requests sharing the warm prefix: "
                             f"+{cold_queries:.0f} prefix-cache queries")
    check(hits >= n * (prefix_blocks - 1),
          f"the warm worker hit {hits:.0f} blocks, expected >= {n} x {prefix_blocks - 1}")

    # The warm worker restarts at the same address (a new process: another event log). The
    # frontend's subscription breaks, resubscribes from where it was, and the worker answers
    # with a snapshot of its new, empty cache: the index forgets the old blocks.
    warm.kill()
    warm.wait(timeout=10)
    warm_port = int(warm_address.rsplit(":", 1)[1])
    cluster.start("worker", "w-restarted", *ENGINE, "--listen", f"{H}:{warm_port}")
    wait_until(lambda: indexed().get(warm_address) == 0, 20,
               "the restarted worker's empty snapshot in the frontend's index")
    completion_text(H, fe, body(QUESTIONS[0]))
    wait_until(lambda: max(indexed().values()) >= prefix_blocks, 10,
               "the index to follow the restarted worker's (or the other's) new blocks")
    print(f"restarted worker: index {indexed()}")
finally:
    cluster.stop_all()

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("cache routing: ok")
