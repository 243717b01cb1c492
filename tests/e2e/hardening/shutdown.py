"""Draining on SIGTERM (issue 14, item 7), against a server started with --shutdown-grace 1.

A long stream and a long whole (non-stream) completion run; the server gets SIGTERM. Checked:
/health turns 503; a new generation request then gets 503 with Retry-After; at the grace
deadline the stream ends with an error event and then `data: [DONE]` (not cut mid-chunk) and
the whole completion gets a 503 error body; after the server exits, the stream's usage record in
the SQLite ledger is final (status 'aborted') and bills at least the tokens the client received.
Usage: shutdown.py PORT SERVER_PID LEDGER_DB
"""
import http.client
import json
import os
import signal
import sqlite3
import sys
import threading
import time

port, server_pid, ledger_db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
failures = []
LONG = {"prompt": "hello", "ignore_eos": True}  # up to the context's end


def connect():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def exchange(method, path, body=None):
    """(status, Retry-After header, body text); status None if the server did not answer."""
    connection = connect()
    try:
        connection.request(method, path, body)
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode()
    except (http.client.HTTPException, OSError) as error:
        return None, None, f"no response: {error!r}"
    finally:
        connection.close()


def check(condition, message):
    if not condition:
        failures.append(message)


whole = {}


def whole_completion():
    whole["status"], _, whole["body"] = exchange("POST", "/v1/completions", json.dumps(LONG))


whole_thread = threading.Thread(target=whole_completion)
whole_thread.start()

stream = connect()
stream.request("POST", "/v1/completions", json.dumps(dict(LONG, stream=True)))
response = stream.getresponse()
check(response.status == 200, f"stream answered {response.status}")
events = []  # the JSON (or [DONE]) of each `data:` line, in order


def next_event():
    while True:
        try:
            line = response.readline()
        except (http.client.HTTPException, OSError):
            return None  # cut
        if not line:
            return None  # the connection ended
        line = line.decode().strip()
        if line.startswith("data: "):
            data = line[len("data: "):]
            events.append(data if data == "[DONE]" else json.loads(data))
            return events[-1]


for _ in range(3):  # the stream is running
    check(isinstance(next_event(), dict), "the stream did not start")
os.kill(server_pid, signal.SIGTERM)

# Draining is visible on /health; from then on new work is refused with 503 + Retry-After.
deadline = time.monotonic() + 5
health = 200
while health != 503 and time.monotonic() < deadline:
    health = exchange("GET", "/health")[0]
check(health == 503, "/health did not turn 503 after SIGTERM")
status, retry_after, body = exchange("POST", "/v1/completions",
                                     json.dumps({"prompt": "hi", "max_tokens": 2}))
check(status == 503, f"a request during the drain got {status}: {body[:200]}")
check(retry_after is not None, "the drain's 503 has no Retry-After")

start = time.monotonic()
while next_event() not in (None, "[DONE]"):
    pass
print(f"stream ended {time.monotonic() - start:.2f} s after the drain request; "
      f"{len(events)} events")
check(len(events) >= 2 and events[-1] == "[DONE]",
      f"the stream was cut without [DONE]; last events: {events[-2:]}")
check(len(events) >= 2 and isinstance(events[-2], dict) and "error" in events[-2],
      f"no error event before [DONE]; last events: {events[-2:]}")
whole_thread.join(timeout=30)
check(whole.get("status") == 503 and '"error"' in whole.get("body", ""),
      f"the whole completion cut at the deadline got {whole.get('status')}: "
      f"{whole.get('body', '')[:200]}")

# The server exits; then its ledger holds the stream's final record.
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        os.kill(server_pid, 0)
        time.sleep(0.05)
    except ProcessLookupError:
        break
else:
    failures.append("the server did not exit within 30 s of SIGTERM")
chunks = [e for e in events if isinstance(e, dict) and "choices" in e]
received_text = sum(1 for e in chunks if e["choices"] and e["choices"][0].get("text"))
stream_id = chunks[0]["id"] if chunks else ""
db = sqlite3.connect(ledger_db)
row = db.execute("SELECT status, completion_tokens FROM usage_records WHERE request_id = ?",
                 (stream_id,)).fetchone()
print(f"stream {stream_id}: {received_text} text chunks received; ledger record {row}")
check(row is not None, "no usage record for the stream")
if row:
    check(row[0] == "aborted", f"the cut stream's record has status {row[0]}, want aborted")
    check(row[1] >= received_text and row[1] > 0,
          f"the record bills {row[1]} completion tokens, the client received {received_text}")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("PASS: drain on SIGTERM")
