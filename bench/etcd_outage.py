"""etcd stopped for OUTAGE_S seconds under load (issue 15's benchmark): a frontend and two
workers on a real etcd (lease TTL 5 s), 3 clients sending greedy completions without pause;
etcd is SIGSTOPped for OUTAGE_S (default 30) seconds, then continued. Counts the requests
answered and failed, and their latency before, during and after the outage. Prints JSON.
Usage: etcd_outage.py MXSERVE MODEL WORKDIR [OUTAGE_S]
"""
import json
import os
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e", "cluster"))
from cluster_lib import Cluster, Etcd, completion_text, wait_until, workers  # noqa: E402

mxserve, model, work = sys.argv[1:4]
OUTAGE_S = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
H = "127.0.0.1"
etcd = Etcd(os.path.join(work, "etcd"), os.path.join(work, "etcd.log"))
cluster = Cluster(mxserve, work)
ENGINE = ["-m", model, "--threads", "1", "--kv-memory", "64MiB", "--ctx", "2048"]
samples = []  # (phase, seconds, ok)
phase = ["before"]
try:
    etcd.start()
    member = ["--etcd", etcd.endpoint, "--cluster", "bench", "--lease-ttl", "5"]
    for name in ("w1", "w2"):
        cluster.start("worker", name, *ENGINE, *member, "--listen", f"{H}:0")
    _, fe = cluster.start("frontend", "frontend", "-m", model, "--port", "0", "--no-ledger",
                          *member, "--route", "load")
    wait_until(lambda: sum(x["state"] == "up" for x in workers(H, fe)) == 2, 30, "2 workers up")
    body = {"prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}
    reference, _ = completion_text(H, fe, body)
    stop = threading.Event()

    def load():
        while not stop.is_set():
            began, ok = time.time(), True
            try:
                ok = completion_text(H, fe, body)[0] == reference
            except Exception:  # noqa: BLE001 - a failed request, counted
                ok = False
            samples.append((phase[0], time.time() - began, ok))
    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(10)
    phase[0] = "during"
    etcd.signal(signal.SIGSTOP)
    time.sleep(OUTAGE_S)
    etcd.signal(signal.SIGCONT)
    phase[0] = "after"
    wait_until(lambda: sum(x["state"] == "up" for x in workers(H, fe)) == 2, 30,
               "both workers up after etcd came back")
    time.sleep(10)
    stop.set()
    for t in threads:
        t.join(timeout=60)
finally:
    cluster.stop_all()
    etcd.kill()


def summary(name):
    times = sorted(s for p, s, _ in samples if p == name)
    failed = sum(1 for p, _, ok in samples if p == name and not ok)
    if not times:
        return {"requests": 0, "failed": failed}
    return {"requests": len(times), "failed": failed,
            "latency_p50_ms": round(1000 * statistics.median(times), 1),
            "latency_p99_ms": round(1000 * times[min(len(times) - 1, len(times) * 99 // 100)], 1)}


print(json.dumps({"outage_s": OUTAGE_S, "lease_ttl_s": 5, "clients": 3,
                  "phases": {p: summary(p) for p in ("before", "during", "after")},
                  "failed": sum(1 for _, _, ok in samples if not ok)}, indent=1))
