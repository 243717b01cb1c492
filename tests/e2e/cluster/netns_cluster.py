"""A cluster of hosts on one machine (issue 15, item 7): etcd, a frontend and 3 workers, each in
its own network namespace joined by veth to a bridge (netns_lib.py), and `serve` in one more;
the test client stays in the root namespace. Greedy output through the cluster equals serve's; then,
one fault at a time: a rate cap (tbf) on a worker's link, a worker's link down under streams,
etcd's link down for 30 s (10 x the lease TTL) under load, SIGSTOP and SIGKILL of a worker
under streams. After every fault: every request completed with the unfaulted text, one ledger
record each billing what its client saw, and no sequence or KV block left on a live worker.
Usage: netns_cluster.py MXSERVE MODEL WORKDIR PREFIX
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from cluster_lib import (Cluster, completion_text, engine_gauges, wait_until,  # noqa: E402
                         workers)
from netns_faults import (PulledCable, busiest_worker, check, check_ledger,  # noqa: E402
                          check_settled, complete, failures, served_by, stall,
                          streams_under_fault)
from netns_lib import Topology  # noqa: E402

mxserve, model, work, prefix = sys.argv[1:5]
TTL = 3  # seconds; the lease of every member
# One token per step, one sequence per worker: a re-prefill after a failover computes exactly
# what the first worker computed (failover.py says why).
ENGINE = ["-m", model, "--threads", "1", "--kv-memory", "16MiB", "--ctx", "2048",
          "--max-seqs", "1", "--max-batch-tokens", "1"]
WORKERS = ["w1", "w2", "w3"]
# etcd cut off (link down, a silent partition) for the 30 s: a TCP connection that
# kept its unacknowledged bytes through it resends them only when its exponential backoff
# comes round (29.5 s after the link's return here), so recovery within RECOVERY s needs each
# process to drop the dead connection and dial again (keepalive on the etcd channel).
ETCD_OUTAGE = 30
RECOVERY = 8
ORPHAN_BOUND = 6  # s a worker cut off may hold an orphaned stream (its keepalive: 2-4 s)
ORPHAN_TOKENS = 200  # tokens a SIGSTOPped worker may make once continued (it drops the orphan)
RATE_KBIT = 64  # tbf on one worker's link each way (burst 2 KiB): it holds back packets
# Tokens a stream under a fault asks for: it still runs when the fault comes, and the victim's
# copy would still run (~6-12 s at 100-200 tokens/s) when its orphaned sequence must have been
# dropped (behind a pulled cable within ORPHAN_BOUND s; after SIGCONT at once).
LONG = 1200
PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time"]


def start_etcd(host):
    url = f"http://{host.ip}:2379"
    log = open(os.path.join(work, "etcd.log"), "w")
    proc = subprocess.Popen(host.command(
        "etcd", "--name", "e2e", "--data-dir", os.path.join(work, "etcd"),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
        "--initial-cluster", "e2e=http://127.0.0.1:2380"), stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: subprocess.run(
        ["etcdctl", "--endpoints", f"{host.ip}:2379", "--dial-timeout", "1s", "endpoint",
         "health"], capture_output=True, timeout=10).returncode == 0, 30, "etcd healthy")
    return proc


def up_workers(fe):
    return {x["address"]: x["epoch"] for x in workers(*fe) if x["state"] == "up"}


def rate_cap_phase(topo, fe, reference, ledger):
    """RATE_KBIT kbit/s each way on w1's link: 9 requests, 3 at a time, all answered with the greedy
    text; prints where they went and how long they took there. Returns what clients saw."""
    topo.rate_cap("w1", RATE_KBIT)
    seen, took, errors, lock = [], {}, [], threading.Lock()

    def client(k):
        for prompt in PROMPTS:
            body = {"prompt": prompt, "max_tokens": 40, "temperature": 0}
            started = time.time()
            try:
                text, usage, request_id = complete(*fe, body)
                with lock:
                    seen.append((request_id, usage))
                    took[request_id] = time.time() - started
                    if text != reference[prompt]:
                        errors.append(f"client {k}: {prompt!r} answered {text!r}")
            except Exception as error:  # noqa: BLE001 - a failed request
                with lock:
                    errors.append(f"client {k}: {error!r}")
    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    capped = topo.rate_cap_stats("w1")
    topo.rate_cap("w1", None)
    check(any(over for _, over in capped.values()),
          f"rate cap: tbf held back no packet ({capped}): the cap never bit")
    check(not errors and len(seen) == 9, f"rate cap: {len(seen)}/9 answered; {errors[:3]}")
    by_worker = {}
    for request_id, served in served_by(ledger, took).items():
        by_worker.setdefault(topo.host_of(served[0]).name, []).append(took[request_id])
    print(f"tbf {RATE_KBIT}kbit on w1: {len(seen)} requests answered, {len(errors)} failed; "
          "by worker: " +
          ", ".join(f"{name} {len(t)} (mean {sum(t) / len(t):.2f} s)"
                    for name, t in sorted(by_worker.items())) +
          "; w1's link " + ", ".join(f"{way} it {sent} bytes, {over} packets held back"
                                     for way, (sent, over) in capped.items()))
    return seen


def stream_phase(label, fe, topo, bodies, expected, fault, undo, least_stall):
    """Streams across fault(victim name); undo(victim name) after they end. A fault found by a
    deadline (--token-timeout 2 s) stalls the victim's stream by more than least_stall.
    Returns the victim, the finished streams and the time of the fault."""
    view = []

    def inject():
        view.extend(workers(*fe))
        victim = busiest_worker(fe, topo)
        fault(victim)
        return victim
    name, done, fault_time = streams_under_fault(fe, bodies, expected, label, inject)
    undo(name)
    longest = max((stall(times, fault_time)[0] for _, _, times, _ in done), default=0.0)
    placed = ", ".join(f"{topo.host_of(x['address']).name} {x['requests']}" for x in view)
    print(f"{label} of {name} (requests on each worker at the fault: {placed}): "
          f"{len(done)}/{len(bodies)} streams complete with the unfaulted text; longest stall "
          f"across the fault {longest:.2f} s")
    check(longest > least_stall, f"{label}: no stream stalled across the fault by more than "
          f"{least_stall} s (longest {longest:.2f} s)")
    return name, done, fault_time


def members_in_etcd(etcd_ip):
    """The member keys in etcd (asked across the bridge)."""
    done = subprocess.run(["etcdctl", "--endpoints", f"{etcd_ip}:2379", "--dial-timeout", "1s",
                           "--command-timeout", "2s", "get", "--prefix", "--keys-only",
                           "/mxserve/e2e/members/"], capture_output=True, text=True, timeout=10)
    return {line for line in done.stdout.splitlines() if line.strip()}


def etcd_outage_phase(topo, fe, reference):
    """etcd's link down for ETCD_OUTAGE s (> 2 x TTL) under 3 clients' load, then up: no request
    fails; every process is a member again under a new epoch (its lease expired), in etcd and
    in the frontend's view, within RECOVERY s of the link's return. Returns what clients saw."""
    before = up_workers(fe)
    etcd_ip = topo.hosts["etcd"].ip
    keys_before = members_in_etcd(etcd_ip)
    check(len(keys_before) == len(WORKERS) + 1, f"etcd holds {keys_before} before the outage")
    seen, errors, lock, stop = [], [], threading.Lock(), threading.Event()

    def client(k):
        while not stop.is_set():
            prompt = PROMPTS[len(seen) % len(PROMPTS)]
            try:
                text, usage, request_id = complete(*fe, {"prompt": prompt, "max_tokens": 40,
                                                         "temperature": 0})
                with lock:
                    seen.append((request_id, usage))
                    if text != reference[prompt]:
                        errors.append(f"{prompt!r} answered {text!r}")
            except Exception as error:  # noqa: BLE001 - a failed request
                with lock:
                    errors.append(repr(error))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(1)
    topo.link("etcd", False)
    time.sleep(ETCD_OUTAGE)
    topo.link("etcd", True)
    up_at = time.time()
    for what, back in (("4 processes registered again in etcd",
                        lambda: len(members_in_etcd(etcd_ip) - keys_before) == len(WORKERS) + 1),
                       ("every worker a member again in the frontend's view",
                        lambda: len(up_workers(fe)) == len(WORKERS) and
                        all(before.get(a) != e for a, e in up_workers(fe).items()))):
        try:
            wait_until(back, 60, what)
            took = time.time() - up_at
            print(f"etcd link up: {what} {took:.1f} s later")
            check(took <= RECOVERY, f"etcd outage: {what} only {took:.1f} s after the link came "
                  f"back (want <= {RECOVERY} s)")
        except RuntimeError as error:
            check(False, f"etcd outage: {error}: etcd {members_in_etcd(etcd_ip)}, before "
                  f"{keys_before}; frontend {workers(*fe)}")
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    check(not errors, f"etcd outage: {len(errors)} request(s) failed: {errors[:3]}")
    print(f"etcd link down {ETCD_OUTAGE} s (lease TTL {TTL} s) under load: {len(seen)} requests "
          f"answered, {len(errors)} failed")
    return seen


class Run:
    """The hosts, processes and expectations of one run, and the checks after each fault."""

    def __init__(self, topo, cluster):
        self.topo, self.cluster = topo, cluster
        etcd_host, fe_host = topo.add("etcd"), topo.add("fe")
        self.hosts = {name: topo.add(name) for name in WORKERS}
        cluster.procs.append(start_etcd(etcd_host))
        member = ["--etcd", f"{etcd_host.ip}:2379", "--cluster", "e2e", "--lease-ttl", str(TTL)]
        self.procs = {}
        for name, host in self.hosts.items():
            self.procs[name], _ = cluster.start(
                "worker", name, *ENGINE, *member, "--listen", f"{host.ip}:9000", "--host",
                host.ip, "--port", "9100", netns=host.ns)
        self.ledger = os.path.join(work, "fe-data", "ledger.sqlite3")
        _, port = cluster.start("frontend", "frontend", "-m", model, "--host", fe_host.ip,
                                "--port", "8000", "--data-dir", os.path.dirname(self.ledger),
                                *member, "--allow-no-auth", "--route", "load",
                                "--token-timeout", "2", "--first-token-timeout", "5",
                                netns=fe_host.ns)
        self.fe = (fe_host.ip, port)
        serve_host = topo.add("serve")  # a host too: an aborted run's clean() kills it as well
        _, serve_port = cluster.start("serve", "serve", *ENGINE, "--host", serve_host.ip,
                                      "--port", "8000", "--no-ledger", "--allow-no-auth",
                                      netns=serve_host.ns)
        self.serve = (serve_host.ip, serve_port)
        wait_until(lambda: len(up_workers(self.fe)) == 3, 30, "3 workers up through etcd")

    def baseline(self):
        """Greedy output through the cluster (across the bridge) equals serve's; the unfaulted
        texts of the streams the faults cut come from serve."""
        self.reference, seen = {}, []
        for prompt in PROMPTS:
            body = {"prompt": prompt, "max_tokens": 40, "temperature": 0}
            self.reference[prompt], _ = completion_text(*self.serve, body)
            text, usage, request_id = complete(*self.fe, body)
            seen.append((request_id, usage))
            check(text == self.reference[prompt], f"greedy text differs for {prompt!r}: "
                  f"{text!r} vs serve's {self.reference[prompt]!r}")
        check_ledger("baseline", self.ledger, seen)
        self.bodies = [{"prompt": f"Story number {i}:", "max_tokens": LONG, "temperature": 0,
                        "ignore_eos": True} for i in range(2)]
        self.expected = [completion_text(*self.serve, b)[0] for b in self.bodies]

    def live(self):
        return [name for name in WORKERS if self.procs[name].poll() is None]

    def generated(self, name):
        gauges = engine_gauges(self.hosts[name].ip, 9100)
        return gauges["mxserve_engine_generated_tokens_total"]

    def settled(self, label, seen, moved_at_least=0):
        """Live workers idle, ledger exact; returns ({worker: requests}, ids of moved ones)."""
        took = check_settled(label, {n: self.hosts[n] for n in self.live()})
        where, moved = check_ledger(label, self.ledger, seen)
        named = {self.topo.host_of(a).name: n for a, n in where.items()}
        print(f"{label}: workers idle after {took or 0:.1f} s; ledger exact for {len(seen)} "
              f"requests ({len(moved)} moved), by worker {named}")
        # After a stream round: the victim's stream went on elsewhere, and its record says so.
        check(len(moved) >= moved_at_least, f"{label}: {len(moved)} records name two workers, "
              f"want {moved_at_least} or more")
        return named, moved

    def fault_round(self, label, fault, undo, least_stall):
        """Streams across fault(victim) (undo(victim) once they end); then settled."""
        live = self.live()
        wait_until(lambda: len(up_workers(self.fe)) == len(live) and
                   all(x["running"] == 0 for x in workers(*self.fe)), 30,
                   f"{label}: every live worker up and idle in the frontend's view")
        victim, done, fault_time = stream_phase(label, self.fe, self.topo, self.bodies,
                                                self.expected, fault, undo, least_stall)
        _, moved = self.settled(label, [(d[3], d[1]) for d in done], 1)
        for _, _, times, request_id in done:
            if request_id in moved:
                gap, after = stall(times, fault_time)
                # Behind a pulled cable or SIGSTOP, the token that ends the stall is the first
                # from the next worker: the time from the fault to the next token.
                print(f"{label}: the moved stream's longest stall {gap:.2f} s, ended by a token "
                      f"{after:.2f} s after the fault")
        return victim

    def sigstop_round(self):
        """SIGSTOP of the busiest worker; SIGCONT once the streams ended elsewhere: it must drop
        the orphan at once (a few tokens), not finish it."""
        at_stop = {}

        def stop(name):
            at_stop[name] = self.generated(name)
            os.kill(self.procs[name].pid, signal.SIGSTOP)

        def cont(name):
            os.kill(self.procs[name].pid, signal.SIGCONT)
        victim = self.fault_round("SIGSTOP", stop, cont, 1.5)
        made = self.generated(victim) - at_stop[victim]
        print(f"SIGSTOP: {victim} generated {made:.0f} tokens from its SIGSTOP on (its stream "
              f"had {LONG} to go at most)")
        check(made <= ORPHAN_TOKENS, f"SIGSTOP: {victim} generated {made:.0f} tokens after "
              f"SIGCONT: it went on with the orphaned sequence instead of dropping it")


def main(topo, cluster):
    run = Run(topo, cluster)
    run.baseline()
    named, _ = run.settled("tbf", rate_cap_phase(topo, run.fe, run.reference, run.ledger))
    check(named.get("w1", 0) > 0, "tbf: no request went to the rate-capped worker")
    # Cut off, the victim must drop the orphan by itself (its keepalive: a ping every 2 s, 2 s
    # to answer), watched from inside its namespace.
    cable = PulledCable(topo, run.fe, lambda: up_workers(run.fe), ORPHAN_BOUND)
    run.fault_round("link down", cable.pull, cable.plug, 1.5)
    run.settled("etcd link down", etcd_outage_phase(topo, run.fe, run.reference))
    run.sigstop_round()
    # A kill breaks the connection: the stream moves at once (no stall to require).
    run.fault_round("SIGKILL", lambda name: os.kill(run.procs[name].pid, signal.SIGKILL),
                    lambda name: None, 0)
    wait_until(lambda: len(workers(*run.fe)) == 2, TTL + 15, "the killed worker's lease to end")


topo = Topology(prefix)
cluster = Cluster(mxserve, work)
try:
    main(topo, cluster)
finally:
    cluster.stop_all()
    topo.close()

if failures:
    print(f"FAIL: {len(failures)} check(s)")
    sys.exit(1)
print("PASS: cluster of namespaced hosts: greedy equality, link faults, etcd outage, signals")
