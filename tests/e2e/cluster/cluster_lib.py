"""Processes and HTTP for the cluster e2e tests: start `mxserve serve|worker|frontend` with
their logs in a work dir, read the port each one bound (--port 0 / --listen :0), stop them all
by pid. Every wait is bounded."""
import http.client
import json
import os
import re
import signal
import subprocess
import time

PORT_PATTERNS = {
    "serve": re.compile(r"serving .* on http://[^:]*:(\d+)"),
    "frontend": re.compile(r"serving .* on http://[^:]*:(\d+)"),
    "worker": re.compile(r"worker serving .* on grpc://[^:]*:(\d+)"),
}


class Cluster:
    def __init__(self, mxserve, work):
        self.mxserve, self.work = mxserve, work
        self.procs = []

    def start(self, role, name, *args, netns=None):
        """Starts a role; returns (Popen, port)."""
        log_path = os.path.join(self.work, f"{name}.log")
        command = [self.mxserve, role, *args]
        if netns:
            command = ["ip", "netns", "exec", netns, *command]
        log = open(log_path, "w")
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log_path
        self.procs.append(proc)
        deadline = time.time() + 60
        while time.time() < deadline:
            text = open(log_path).read()
            match = PORT_PATTERNS[role].search(text)
            if match:
                metrics = re.search(r"worker metrics on http://[^:]*:(\d+)", text)
                proc.metrics_port = int(metrics.group(1)) if metrics else None
                return proc, int(match.group(1))
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start:\n" + open(log_path).read()[-3000:])

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGCONT)
                    proc.kill()
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def request(host, port, method, path, body=None, timeout=300):
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def completion_text(host, port, body):
    status, text = request(host, port, "POST", "/v1/completions", body)
    if status != 200:
        raise RuntimeError(f"{host}:{port} answered {status}: {text}")
    reply = json.loads(text)
    return reply["choices"][0]["text"], reply["usage"]


def stream_completion(host, port, body, on_chunk=None, timeout=120):
    """Streams a completion; returns (text, usage, [arrival times of text chunks], id)."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.request("POST", "/v1/completions",
                       json.dumps(dict(body, stream=True, stream_options={"include_usage": True})),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"stream answered {response.status}: {response.read().decode()}")
    text, usage, times, request_id = "", None, [], ""
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        request_id = event.get("id", request_id)
        if "error" in event:
            raise RuntimeError(f"stream error: {event['error']}")
        for choice in event.get("choices", []):
            if choice.get("text"):
                text += choice["text"]
                times.append(time.time())
                if on_chunk:
                    on_chunk(len(times))
        if event.get("usage"):
            usage = event["usage"]
    connection.close()
    return text, usage, times, request_id


def engine_gauges(host, port):
    """The mxserve_* gauges and counters of a role's /metrics, by name (no labels)."""
    status, text = request(host, port, "GET", "/metrics", timeout=10)
    values = {}
    for line in text.splitlines():
        if line.startswith("mxserve_") and "{" not in line:
            name, value = line.split()[:2]
            values[name] = float(value)
    return values


def workers(host, port):
    status, text = request(host, port, "GET", "/cluster/workers")
    return json.loads(text)["workers"] if status == 200 else []


def wait_until(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {seconds} s waiting for {what}")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """A real etcd on free loopback ports, in `data_dir`; stop/cont/kill/restart for faults."""

    def __init__(self, data_dir, log_path):
        self.data_dir, self.log_path = data_dir, log_path
        self.client_port, self.peer_port = free_port(), free_port()
        self.proc = None

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.client_port}"

    def start(self):
        url = f"http://127.0.0.1:{self.client_port}"
        self.proc = subprocess.Popen(
            ["etcd", "--name", "test", "--data-dir", self.data_dir, "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls",
             f"http://127.0.0.1:{self.peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
             "--initial-cluster", f"test=http://127.0.0.1:{self.peer_port}"],
            stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT)
        wait_until(lambda: subprocess.run(
            ["etcdctl", "--endpoints", self.endpoint, "--dial-timeout", "1s", "endpoint",
             "health"], capture_output=True).returncode == 0, 30, "etcd healthy")

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
