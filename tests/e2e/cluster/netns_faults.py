"""The checks the namespaced cluster test makes after each fault (netns_cluster.py): streams
under a fault against their unfaulted text, the ledger against what the clients saw, and no
sequence or KV block left on the workers. Each check appends to `failures` and prints."""
import json
import sqlite3
import subprocess
import sys
import threading
import time

from cluster_lib import engine_gauges, request, stream_completion, wait_until, workers

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)
    return condition


def complete(host, port, body):
    """A non-streamed completion: (text, usage, id)."""
    status, text = request(host, port, "POST", "/v1/completions", body, timeout=120)
    if status != 200:
        raise RuntimeError(f"{host}:{port} answered {status}: {text}")
    reply = json.loads(text)
    return reply["choices"][0]["text"], reply["usage"], reply["id"]


def streams_under_fault(fe, bodies, expected, label, fault):
    """Streams `bodies` through the frontend at fe = (ip, port); once each has 5 chunks,
    calls fault() -> the victim's name. Returns (the victim, the finished streams as
    (text, usage, times, id), the time of the fault). Checks every stream completes with its
    expected text and the full usage."""
    results, progress = [None] * len(bodies), [0] * len(bodies)

    def run(i):
        try:
            results[i] = stream_completion(*fe, bodies[i],
                                           on_chunk=lambda n: progress.__setitem__(i, n))
        except Exception as error:  # noqa: BLE001 - reported as a failure below
            results[i] = error
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    wait_until(lambda: min(progress) >= 5, 60, f"{label}: every stream under way")
    fault_time = time.time()
    victim = fault()
    for t in threads:
        t.join(timeout=180)
    done = []
    for i, result in enumerate(results):
        if not check(isinstance(result, tuple), f"{label}: stream {i} failed: {result}"):
            continue
        text, usage, times, _ = result
        check(text == expected[i], f"{label}: stream {i} text differs from the unfaulted run "
              f"({len(text)} vs {len(expected[i])} chars)")
        check(usage and usage["completion_tokens"] == bodies[i]["max_tokens"],
              f"{label}: stream {i} usage {usage}, want {bodies[i]['max_tokens']} tokens")
        done.append(result)
    return victim, done, fault_time


def stall(times, fault_time):
    """The longest wait between a stream's tokens from the fault on (tokens the victim had
    already sent still arrive for a moment), and how long after the fault the token that ended
    it came, in seconds."""
    spans = [(b - a, b - fault_time) for a, b in zip(times, times[1:]) if b > fault_time]
    return max(spans or [(0.0, 0.0)])


def busiest_worker(fe, topology):
    """The name of the worker with the most requests of this frontend running on it."""
    busiest = max((x for x in workers(*fe) if x["state"] == "up"), key=lambda x: x["requests"])
    return topology.host_of(busiest["address"]).name


def check_settled(label, worker_hosts, seconds=20):
    """Every worker in worker_hosts (name -> Host) reaches 0 running sequences and 0 KV blocks
    in use on its own /metrics (port 9100, over the bridge) within `seconds`."""
    last = {}

    def idle():
        for name, host in worker_hosts.items():
            try:
                last[name] = g = engine_gauges(host.ip, 9100)
            except OSError as error:
                last[name] = repr(error)
                return False
            if g.get("mxserve_sequences_running", 1) or g.get("mxserve_kv_blocks_used", 1):
                return False
        return True
    started = time.time()
    try:
        wait_until(idle, seconds, f"{label}: 0 sequences, 0 KV blocks on every worker")
        return time.time() - started
    except RuntimeError as error:
        check(False, f"{error}: {last}")
        return None


def check_ledger(label, ledger_path, seen):
    """seen: [(request id, usage)] the clients got. Each has one record, status ok, billing
    exactly that usage. Returns {worker address: requests} from the records (several per record
    after a failover) and the ids of the records that name more than one worker (moved)."""
    db = sqlite3.connect(ledger_path, timeout=10)
    where, moved = {}, []
    try:
        for request_id, usage in seen:
            rows = db.execute("SELECT status, prompt_tokens, completion_tokens, worker FROM "
                              "usage_records WHERE request_id = ?", (request_id,)).fetchall()
            if not check(len(rows) == 1, f"{label}: {request_id}: {len(rows)} records, want 1"):
                continue
            status, prompt_tokens, completion_tokens, served_by = rows[0]
            check(status == "ok" and prompt_tokens == usage["prompt_tokens"] and
                  completion_tokens == usage["completion_tokens"],
                  f"{label}: {request_id}: record {rows[0]}, the client saw {usage}")
            parts = served_by.split(",")
            check(all("@" in part for part in parts),
                  f"{label}: {request_id}: record names the workers {served_by!r}")
            if len(parts) > 1:
                moved.append(request_id)
            for part in parts:
                address = part.split("@")[0]
                where[address] = where.get(address, 0) + 1
    finally:
        db.close()
    return where, moved


def served_by(ledger_path, request_ids):
    """{request id: [the worker addresses its record names, in order]}."""
    db = sqlite3.connect(ledger_path, timeout=10)
    try:
        return {request_id: [part.split("@")[0] for part in row[0].split(",")]
                for request_id in request_ids
                for row in db.execute("SELECT worker FROM usage_records WHERE request_id = ?",
                                      (request_id,))}
    finally:
        db.close()


def gauges_inside(host, port):
    """A host's /metrics gauges read from inside its own namespace (reachable with its cable
    pulled), as engine_gauges."""
    done = subprocess.run(host.command(
        sys.executable, "-c", "import sys, urllib.request; sys.stdout.write(urllib.request."
        "urlopen(sys.argv[1], timeout=2).read().decode())", f"http://{host.ip}:{port}/metrics"),
        capture_output=True, text=True, timeout=10)
    return {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()
            if line.startswith("mxserve_") and "{" not in line}


class PulledCable:
    """fault / undo of a stream round: pull() takes a worker's link down and, while it is out,
    watches the worker from inside its namespace for the moment it holds no running sequence
    and no KV block: cut off, it must drop the orphaned stream by itself (its keepalive finds
    the frontend gone) within `bound` s. plug() puts the link back and waits until the
    frontend routes to the worker again."""

    def __init__(self, topo, fe, routed, bound):
        self.topo, self.fe, self.routed, self.bound = topo, fe, routed, bound
        self.down_at, self.freed_after = 0.0, None

    def pull(self, name):
        self.topo.link(name, False)
        self.down_at, self.freed_after = time.time(), None
        self.watcher = threading.Thread(target=self._watch, args=(self.topo.hosts[name],))
        self.watcher.start()

    def _watch(self, host):
        while time.time() - self.down_at < self.bound + 10:
            try:
                g = gauges_inside(host, 9100)
                if not g.get("mxserve_sequences_running", 1) and \
                        not g.get("mxserve_kv_blocks_used", 1):
                    self.freed_after = time.time() - self.down_at
                    return
            except (subprocess.SubprocessError, OSError, ValueError, IndexError):
                pass
            time.sleep(0.2)

    def plug(self, name):
        self.watcher.join(timeout=self.bound + 15)
        self.topo.link(name, True)
        plugged = time.time()
        print(f"link of {name} down {plugged - self.down_at:.1f} s; cut off, it held no "
              f"sequence and no KV block {self.freed_after or -1:.1f} s after the pull")
        freed = "never" if self.freed_after is None else f"after {self.freed_after:.1f} s"
        check(self.freed_after is not None and self.freed_after <= self.bound,
              f"link down: {name} still held the orphaned stream {self.bound} s after its link "
              f"went down (freed {freed})")
        wait_until(lambda: any(self.topo.host_of(a).name == name for a in self.routed()), 30,
                   f"{name} up again after its link came back")
        print(f"link of {name} back: routed to again {time.time() - plugged:.1f} s later")
