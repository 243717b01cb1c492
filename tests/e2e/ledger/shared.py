"""Two `mxserve serve` processes on one ledger (tests/e2e/test_ledger_shared.sh).

1. A streams a long completion; B starts on the same ledger while it runs; A's record must end
   final with what the client received (status ok, not aborted/recovered), and B must settle
   nothing. Records name the port actually bound, not the 0 of --port 0.
2. A is killed (SIGKILL) mid-stream: the next process to start settles A's open record
   (aborted, recovered, billed at least what the client received), and leaves B's alone.

argv: mxserve model ledger_flag ledger_value work_dir
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

MXSERVE, MODEL, LEDGER_FLAG, LEDGER_VALUE, WORK = sys.argv[1:6]
LONG_TOKENS = int(os.environ.get("MX_LONG_TOKENS", "1000"))
servers = []


def start(name):
    log_path = os.path.join(WORK, f"{name}.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [MXSERVE, "serve", "-m", MODEL, "--served-model-name", "tiny", "--port", "0",
         "--threads", "1", "--ctx", "2048", "--kv-memory", "64MiB", LEDGER_FLAG, LEDGER_VALUE],
        stdout=subprocess.DEVNULL, stderr=log)
    servers.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = open(log_path).read()
        match = re.search(r"serving .* on http://[^:]*:(\d+)", text)
        if match:
            return proc, int(match.group(1)), log_path
        if proc.poll() is not None:
            raise SystemExit(f"FAIL: {name} exited:\n{text}")
        time.sleep(0.05)
    raise SystemExit(f"FAIL: {name} did not start in 60 s")


class Stream(threading.Thread):
    """Reads one streamed completion to its end: the id, tokens received, the usage told."""

    def __init__(self, port, max_tokens):
        super().__init__(daemon=True)
        body = {"model": "tiny", "prompt": "Once upon a time", "max_tokens": max_tokens,
                "ignore_eos": True, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        self.request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
            headers={"content-type": "application/json"})
        # received: chunks with text (a chunk holds one token's text, or none while a
        # character is incomplete): at most the tokens generated.
        self.id, self.received, self.usage, self.error = None, 0, None, None
        self.first_token = threading.Event()

    def run(self):
        try:
            with urllib.request.urlopen(self.request, timeout=120) as response:
                for line in response:
                    line = line.decode().strip()
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[len("data: "):])
                    self.id = chunk["id"]
                    if chunk.get("usage"):
                        self.usage = chunk["usage"]
                    if chunk.get("choices") and chunk["choices"][0].get("text") is not None:
                        self.received += 1
                        self.first_token.set()
        except Exception as error:  # the SIGKILL case ends here
            self.error = error
        self.first_token.set()


def records(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/usage/records", timeout=30) as r:
        return {record["request_id"]: record for record in json.load(r)["data"]}


def expect(condition, message):
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def settled_count(log_path):
    match = re.search(r"settled (\d+) usage records", open(log_path).read())
    return int(match.group(1)) if match else 0


try:
    a, a_port, a_log = start("a")
    # 1. B starts while A's request runs.
    stream = Stream(a_port, LONG_TOKENS)
    stream.start()
    expect(stream.first_token.wait(60) and stream.received > 0, f"A streamed nothing: {stream.error}")
    b, b_port, b_log = start("b")
    expect(stream.is_alive(),
           f"A's request ended before B was up: the test lost its point (raise MX_LONG_TOKENS)")
    stream.join(120)
    expect(not stream.is_alive() and stream.usage, f"A's stream did not end well: {stream.error}")
    told = stream.usage["completion_tokens"]
    expect(told == LONG_TOKENS, f"A generated {told} of {LONG_TOKENS} tokens")
    record = records(b_port).get(stream.id)
    expect(record, f"no record of {stream.id}")
    expect(record["status"] == "ok" and not record["recovered"],
           f"A's live request was settled by B: {record}")
    expect(record["completion_tokens"] == told,
           f"A's client received {told} tokens, the ledger says {record}")
    expect(record["worker"].endswith(f":{a_port}"),
           f"worker {record['worker']!r} does not name A's bound port {a_port}")
    expect(settled_count(b_log) == 0, "B settled records at its start:\n" + open(b_log).read())
    print(f"1. A's record is final with {record['completion_tokens']} tokens, worker "
          f"{record['worker']}; B settled nothing")

    # 2. A dies mid-stream with B still up; C's start settles A's record, not B's live one.
    doomed = Stream(a_port, LONG_TOKENS)
    doomed.start()
    b_stream = Stream(b_port, LONG_TOKENS)
    b_stream.start()
    expect(doomed.first_token.wait(60) and b_stream.first_token.wait(60), "no first tokens")
    a.send_signal(signal.SIGKILL)
    a.wait(30)
    doomed.join(30)
    expect(doomed.id, "the doomed stream has no id")
    c, c_port, c_log = start("c")
    expect(b_stream.is_alive(), "B's request ended before C was up (raise MX_LONG_TOKENS)")
    expect(settled_count(c_log) == 1, "C did not settle exactly A's record:\n" + open(c_log).read())
    killed = records(c_port).get(doomed.id)
    expect(killed and killed["status"] == "aborted" and killed["recovered"],
           f"A's record after SIGKILL: {killed}")
    expect(killed["completion_tokens"] >= doomed.received,
           f"A's client received {doomed.received}, billed {killed['completion_tokens']}")
    b_stream.join(120)
    b_record = records(c_port).get(b_stream.id)
    expect(b_record and b_record["instance_id"] not in ("", killed["instance_id"]),
           f"records of A and B name different instances: {killed}, {b_record}")
    expect(b_record and b_stream.usage and b_record["status"] == "ok" and not b_record["recovered"]
           and b_record["completion_tokens"] == b_stream.usage["completion_tokens"] == LONG_TOKENS,
           f"B's record after C's start: {b_record}")
    print(f"2. SIGKILLed A's record settled by C at start ({killed['completion_tokens']} tokens "
          f">= {doomed.received} received); B's stayed live and final")
finally:
    for proc in servers:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
print("PASS: one ledger shared by several serve processes")
