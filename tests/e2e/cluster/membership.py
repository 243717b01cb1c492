"""A cluster on a real etcd (issue 15): workers join and leave through etcd, an etcd outage
under load fails no request, a SIGKILLed worker is marked down at its first failure (before its
lease expires) and leaves the view when its lease does, a SIGTERMed worker leaves at once and
finishes what it runs, a new worker joins and is routed to.
Usage: membership.py MXSERVE MODEL WORKDIR
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_lib import (Cluster, Etcd, completion_text, stream_completion,  # noqa: E402
                         wait_until, workers)

mxserve, model, work = sys.argv[1:4]
H = "127.0.0.1"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


etcd = Etcd(os.path.join(work, "etcd"), os.path.join(work, "etcd.log"))
cluster = Cluster(mxserve, work)
ENGINE = ["-m", model, "--threads", "1", "--kv-memory", "64MiB", "--ctx", "4096"]
TTL = "3"
try:
    etcd.start()
    MEMBER = ["--etcd", etcd.endpoint, "--cluster", "e2e", "--lease-ttl", TTL]
    w1, _ = cluster.start("worker", "w1", *ENGINE, *MEMBER, "--listen", f"{H}:0")
    w2, _ = cluster.start("worker", "w2", *ENGINE, *MEMBER, "--listen", f"{H}:0",
                          "--shutdown-grace", "30")
    _, fe = cluster.start("frontend", "frontend", "-m", model, "--port", "0", "--no-ledger",
                          *MEMBER, "--route", "round-robin", "--token-timeout", "3")

    def up_count():
        return sum(x["state"] == "up" for x in workers(H, fe))
    wait_until(lambda: up_count() == 2, 20, "both workers up through etcd")
    body = {"prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}
    reference, _ = completion_text(H, fe, body)

    # 1. etcd stopped (SIGSTOP, then SIGKILL and a restart on the same data) under load: no
    # request fails and every answer is the greedy text.
    errors, answered = [], [0]
    stop_load = threading.Event()

    def load():
        while not stop_load.is_set():
            try:
                text, _ = completion_text(H, fe, body, )
                if text != reference:
                    errors.append(f"wrong text {text!r}")
                answered[0] += 1
            except Exception as error:  # noqa: BLE001 - counted as a failed request
                errors.append(repr(error))
    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(1)
    etcd.signal(signal.SIGSTOP)
    time.sleep(float(TTL) * 2)  # longer than the leases
    etcd.signal(signal.SIGCONT)
    time.sleep(1)
    etcd.kill()
    time.sleep(float(TTL) * 2)
    etcd.start()
    wait_until(lambda: up_count() == 2, 30, "both workers up again after etcd came back")
    time.sleep(1)
    stop_load.set()
    for t in threads:
        t.join(timeout=60)
    check(not errors, f"{len(errors)} request(s) failed while etcd was down: {errors[:3]}")
    print(f"etcd stopped {2 * float(TTL):.0f} s then killed {2 * float(TTL):.0f} s under load: "
          f"{answered[0]} requests answered, {len(errors)} failed")

    # 2. A worker SIGKILLed mid-stream: marked down at once, the stream completes elsewhere;
    # its member key goes when its lease expires.
    long_body = {"prompt": "Once upon a time", "max_tokens": 300, "temperature": 0,
                 "ignore_eos": True}
    progress = [0]
    result = {}

    def stream():
        result["value"] = stream_completion(H, fe, long_body,
                                            on_chunk=lambda n: progress.__setitem__(0, n))
    t = threading.Thread(target=stream)
    t.start()
    wait_until(lambda: progress[0] >= 10, 30, "the stream under way")
    busy = [x for x in workers(H, fe) if x["requests"] > 0]
    victim = w1 if busy and busy[0]["address"].endswith(
        open(w1.log_path).read().split("grpc://")[1].split(":")[1].split()[0]) else w2
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.time()
    t.join(timeout=120)
    check("value" in result and result["value"][1]["completion_tokens"] == 300,
          f"the stream across the kill did not complete: {result}")
    wait_until(lambda: len(workers(H, fe)) == 1, float(TTL) + 10, "the killed worker's lease to end")
    print(f"killed worker left the view {time.time() - killed_at:.1f} s after SIGKILL "
          f"(lease TTL {TTL} s)")
    survivor = w2 if victim is w1 else w1

    # 3. A new worker joins and is routed to.
    w3, _ = cluster.start("worker", "w3", *ENGINE, *MEMBER, "--listen", f"{H}:0")
    wait_until(lambda: up_count() == 2, 20, "the new worker up")
    for _ in range(4):
        text, _ = completion_text(H, fe, body)
        check(text == reference, "greedy text differs after the new worker joined")

    # 4. SIGTERM of a worker with a stream running: it leaves etcd at once, the stream finishes.
    progress[0] = 0
    result.clear()
    t = threading.Thread(target=stream)
    t.start()
    wait_until(lambda: progress[0] >= 10, 30, "the stream under way")
    for proc in (survivor, w3):
        os.kill(proc.pid, signal.SIGTERM)
        break
    termed_at = time.time()
    wait_until(lambda: len(workers(H, fe)) == 1, 5, "the SIGTERMed worker to leave the view")
    print(f"SIGTERMed worker left the view after {time.time() - termed_at:.2f} s")
    t.join(timeout=120)
    check("value" in result and result["value"][1]["completion_tokens"] == 300,
          f"the stream across the SIGTERM did not complete: {result}")
    check(survivor.wait(timeout=60) == 0, "the SIGTERMed worker did not exit 0")
finally:
    cluster.stop_all()
    etcd.kill()

if failures:
    print(f"FAIL: {len(failures)} check(s)")
    sys.exit(1)
print("PASS: cluster membership on etcd")
