"""Quotas across processes (tests/e2e/test_quota_shared.sh): two `mxserve serve` on one ledger
(two frontends, as far as metering goes) never admit more than a key's limit together.

A key with --requests-per-minute 4 sends 12 requests, alternating between the two servers, 6
at a time in parallel: exactly 4 are answered 200 and 8 get 429 with a Retry-After, whichever
server they reach. Before the windows lived in the store, each process admitted 4 (8 in all).
Then a key with --tokens-per-minute 300 and max_tokens 100: at most two requests fit at once
(prompt + max_tokens each), across both servers.

argv: mxserve model ledger_flag ledger_value work_dir
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

MXSERVE, MODEL, LEDGER_FLAG, LEDGER_VALUE, WORK = sys.argv[1:6]
servers = []


def fail(message):
    for proc in servers:
        proc.kill()
    raise SystemExit(f"FAIL: {message}")


def create_key(name, *limits):
    out = subprocess.run([MXSERVE, "keys", "create", "--name", name, "--json", *limits,
                          LEDGER_FLAG, LEDGER_VALUE], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    return json.loads(out)["secret"]


def start(name):
    log_path = os.path.join(WORK, f"{name}.log")
    proc = subprocess.Popen(
        [MXSERVE, "serve", "-m", MODEL, "--served-model-name", "tiny", "--port", "0",
         "--threads", "1", "--ctx", "512", "--kv-memory", "32MiB", LEDGER_FLAG, LEDGER_VALUE],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    servers.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"serving .* on http://[^:]*:(\d+)", open(log_path).read())
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            fail(f"{name} exited:\n{open(log_path).read()}")
        time.sleep(0.05)
    fail(f"{name} did not start in 60 s")


def complete(port, secret, max_tokens, results):
    body = {"model": "tiny", "prompt": "hi", "max_tokens": max_tokens, "temperature": 0}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            results.append((port, response.status, ""))
    except urllib.error.HTTPError as error:
        retry = error.headers.get("retry-after", "")
        results.append((port, error.code, retry + " " + error.read().decode()[:200]))


def burst(ports, secret, count, max_tokens):
    results = []
    for start_at in range(0, count, 6):
        threads = [threading.Thread(target=complete,
                                    args=(ports[i % 2], secret, max_tokens, results))
                   for i in range(start_at, min(count, start_at + 6))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    return results


requests_key = create_key("four", "--requests-per-minute", "4")
tokens_key = create_key("tokens", "--tokens-per-minute", "300")
ports = [start("a"), start("b")]
began = time.monotonic()
results = burst(ports, requests_key, 12, 1)
ok = [r for r in results if r[1] == 200]
refused = [r for r in results if r[1] == 429]
if len(results) != 12 or len(ok) != 4 or len(refused) != 8:
    fail(f"requests_per_minute 4 over two servers: {len(ok)} answered 200, {len(refused)} "
         f"429, of {len(results)}: {results}")
if not all(r[2].split(" ")[0].isdigit() for r in refused):
    fail(f"a 429 without Retry-After: {refused}")
if {r[0] for r in refused} != set(ports):
    fail(f"both servers should have refused some: {results}")
print(f"requests_per_minute 4 over two servers: 4 admitted ({[r[0] for r in ok]}), 8 refused")

results = burst(ports, tokens_key, 6, 100)
ok = [r for r in results if r[1] == 200]
if len(ok) > 2 or len(ok) == 0:
    fail(f"tokens_per_minute 300 with max_tokens 100: {len(ok)} admitted at once: {results}")
print(f"tokens_per_minute 300, max_tokens 100, 6 at once over two servers: {len(ok)} admitted")
if time.monotonic() - began > 50:
    fail("took over 50 s: the windows may have rolled, the test says nothing")
for proc in servers:
    proc.terminate()
for proc in servers:
    proc.wait(30)
print("PASS: quotas hold across two processes on one ledger")
