"""/health stays fast while hostile JSON bodies are parsed (issue 14, item 2).

A thread posts bodies whose ignored field holds 100,000 keys (1.3 MB, and 7.5 MB with long
keys) and one with 40,000 keys (under the server's key bound); another polls GET /health the
whole time. Checked: /health answers well under 100 ms (one outlier < 500 ms is allowed for a
loaded machine's scheduler), the bodies over the bound are
refused with a 400 naming the limit, the one under it is served (200), each within 10 s.
Usage: hostile_body.py PORT
"""
import http.client
import json
import sys
import threading
import time

port = int(sys.argv[1])


def body_with_keys(n_keys, key_padding=""):
    ignored = ",".join(f'"{key_padding}k{i}":{i}' for i in range(n_keys))
    return ('{"prompt":"hello","max_tokens":1,"ignored":{' + ignored + "}}").encode()


def post(body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.monotonic()
    try:
        connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        status, payload = response.status, response.read().decode()
    except TimeoutError:
        status, payload = None, "no answer within 30 s"
    connection.close()
    return status, payload, time.monotonic() - start


health_ms = []
stop = threading.Event()


def poll_health():
    while not stop.is_set():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start = time.monotonic()
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"/health answered {response.status}")
        except TimeoutError:
            pass  # counted below as a 10 s answer
        health_ms.append((time.monotonic() - start) * 1e3)
        connection.close()
        stop.wait(0.02)


cases = [
    ("100,000 keys, 1.3 MB", body_with_keys(100_000), 400),
    ("100,000 keys, 7.5 MB", body_with_keys(100_000, "x" * 64), 400),
    ("40,000 keys, 0.5 MB", body_with_keys(40_000), 200),
]
failures = []
poller = threading.Thread(target=poll_health)
poller.start()
try:
    time.sleep(0.2)  # a few /health answers before the first body
    for name, body, want in cases:
        status, payload, seconds = post(body)
        print(f"{name}: {len(body) / 1e6:.1f} MB -> {status} in {seconds:.2f} s")
        if status != want:
            failures.append(f"{name}: status {status}, want {want}: {payload[:300]}")
        if want == 400 and "more than 50000 object keys" not in payload:
            failures.append(f"{name}: the 400 does not name the key limit: {payload[:300]}")
        if seconds > 10:
            failures.append(f"{name}: answered after {seconds:.1f} s")
finally:
    stop.set()
    poller.join()
worst = max(health_ms)
print("slowest /health answers (ms):", [round(x, 1) for x in sorted(health_ms)[-5:]])
print(f"/health: {len(health_ms)} answers, median {sorted(health_ms)[len(health_ms) // 2]:.1f} ms, "
      f"worst {worst:.1f} ms")
# One answer may be late by a scheduler hiccup on a loaded machine (seen: 116 ms on 2 cores at
# load 13); the rest must be well under 100 ms. A stalled I/O thread takes seconds.
second_worst = sorted(health_ms)[-2]
if second_worst >= 100 or worst >= 500:
    failures.append(f"/health took {second_worst:.0f} ms and {worst:.0f} ms while bodies were "
                    "parsed (want < 100 ms, one answer < 500 ms)")
if len(health_ms) < 5:
    failures.append(f"only {len(health_ms)} /health answers")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("PASS: hostile bodies do not stall /health")
