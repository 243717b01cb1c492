"""Hosts on one machine for the cluster e2e tests: one network namespace per process, each
joined by a veth pair to a bridge in a hub namespace, addresses on a private /24. The test
client (this process, in the root namespace) is a host on the bridge too. Faults: a host's
cable pulled (`ip link set ... down` on its bridge port) and a rate cap (`tc qdisc tbf`, both
directions). Needs root and `ip netns`; netem is not available in these kernels.

Every name starts with a prefix of this run ("mxn" + the hex pid of the test script), so runs
in parallel never collide; `clean(prefix)` removes what a run left (and `Topology.__init__`
cleans its own prefix and those of runs whose script is no longer alive). Every command has a
timeout. Usage as a script: netns_lib.py clean PREFIX | probe.
"""
import ipaddress
import os
import re
import signal
import subprocess
import sys

PREFIX_RE = re.compile(r"^mxn([0-9a-f]+)-")
COMMAND_TIMEOUT = 10


def sh(*args, check=True):
    """Runs a command (ip, tc) with a bounded wait; returns its stdout."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def namespaces():
    return [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()]


def clean(prefix):
    """Kills, by pid, whatever still runs in the namespaces named `prefix`-*, then deletes them
    (their veths go with them) and the client's veth in the root namespace."""
    for ns in namespaces():
        if not ns.startswith(prefix + "-"):
            continue
        for pid in sh("ip", "netns", "pids", ns, check=False).split():
            try:
                os.kill(int(pid), signal.SIGCONT)
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", ns, check=False)
    if os.path.exists(f"/sys/class/net/{prefix}c"):
        sh("ip", "link", "del", f"{prefix}c", check=False)


def clean_stale(own_prefix):
    """Cleans this prefix (an aborted run with the same pid) and every mxn prefix whose script's
    pid is not alive (a run killed before its own cleanup)."""
    prefixes = {own_prefix}
    for ns in namespaces():
        match = PREFIX_RE.match(ns)
        if match and not os.path.exists(f"/proc/{int(match.group(1), 16)}"):
            prefixes.add(f"mxn{match.group(1)}")
    for prefix in prefixes:
        clean(prefix)


def pick_subnet(seed):
    """A 10.x.y.0/24 that no address or route of this machine (but the default) covers, chosen
    from `seed`."""
    used = [ipaddress.ip_interface(a).network
            for a in re.findall(r"inet (\S+)", sh("ip", "-o", "addr"))]
    for line in sh("ip", "-o", "-4", "route", "show", "table", "all").splitlines():
        # "10.1.0.0/16 via ...", "blackhole 10.2.0.0/16", "local 10.3.0.1 dev ..."
        for word in line.split()[:2]:
            try:
                used.append(ipaddress.ip_network(word, strict=False))
                break
            except ValueError:
                continue
    for step in range(250 * 250):
        n = (seed + step * 7919) % (250 * 250)
        net = ipaddress.ip_network(f"10.{100 + n // 250 % 150}.{n % 250}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free 10.x.y.0/24")


class Host:
    def __init__(self, name, ns, ip):
        self.name, self.ns, self.ip = name, ns, ip

    def command(self, *argv):
        """argv run inside this host's namespace (the pid is argv's: ip execs it)."""
        return ["ip", "netns", "exec", self.ns, *argv]


class Topology:
    """A hub namespace with bridge br0; hosts added by name get namespace <prefix>-<name>,
    eth0 with the next address, and a port named <name> on the bridge."""

    def __init__(self, prefix):
        if len(prefix) > 11:
            raise ValueError(f"prefix {prefix!r}: interface names are at most 15 characters")
        clean_stale(prefix)
        self.prefix, self.hosts = prefix, {}
        self.subnet = pick_subnet(int(prefix[3:], 16))
        self.addresses = iter(self.subnet.hosts())
        self.hub = f"{prefix}-hub"
        sh("ip", "netns", "add", self.hub)
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")
        # The client: this process's namespace, first address.
        self.client_ip = str(next(self.addresses))
        sh("ip", "link", "add", f"{prefix}c", "type", "veth", "peer", "name", "client", "netns",
           self.hub)
        self._port("client")
        sh("ip", "addr", "add", f"{self.client_ip}/{self.subnet.prefixlen}", "dev", f"{prefix}c")
        sh("ip", "link", "set", f"{prefix}c", "up")

    def _port(self, name):
        sh("ip", "-n", self.hub, "link", "set", name, "master", "br0", "up")

    def add(self, name):
        ns = f"{self.prefix}-{name}"
        ip = str(next(self.addresses))
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", name, "netns", self.hub, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        self._port(name)
        sh("ip", "-n", ns, "addr", "add", f"{ip}/{self.subnet.prefixlen}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        self.hosts[name] = Host(name, ns, ip)
        return self.hosts[name]

    def host_of(self, address):
        """The host whose address starts "ip:port"."""
        ip = address.split(":")[0]
        return next(h for h in self.hosts.values() if h.ip == ip)

    def link(self, name, up):
        """Plugs (up) or pulls (down) the host's cable at the bridge: nothing reaches it or
        leaves it, and neither side is told (no RST, no ICMP)."""
        sh("ip", "-n", self.hub, "link", "set", name, "up" if up else "down")

    def rate_cap(self, name, kbit):
        """Caps the host's link to `kbit` kbit/s each way (tbf on both ends of the veth);
        kbit None removes the cap."""
        host = self.hosts[name]
        for ns, dev in ((self.hub, name), (host.ns, "eth0")):
            if kbit is None:
                sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root")
            else:
                sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                   "rate", f"{kbit}kbit", "burst", "2kb", "latency", "500ms")

    def rate_cap_stats(self, name):
        """{"to": ..., "from": ...} the host: tbf's sent bytes and overlimits (packets held back
        for want of tokens) each way."""
        host, out = self.hosts[name], {}
        for way, ns, dev in (("to", self.hub, name), ("from", host.ns, "eth0")):
            text = sh("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev)
            sent = re.search(r"Sent (\d+) bytes", text)
            over = re.search(r"overlimits (\d+)", text)
            out[way] = (int(sent.group(1)) if sent else 0, int(over.group(1)) if over else 0)
        return out

    def close(self):
        clean(self.prefix)


def probe():
    """Exit 0 when namespaces, veths and bridges can be made here (root, ip netns)."""
    prefix = f"mxn{os.getpid():x}"
    try:
        Topology(prefix).add("probe")
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"network namespaces unavailable: {error}")
        return 1
    finally:
        clean(prefix)


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        sys.exit(probe())
    if sys.argv[1:2] == ["clean"] and len(sys.argv) == 3:
        clean(sys.argv[2])
        sys.exit(0)
    sys.exit(f"usage: {sys.argv[0]} clean PREFIX | probe")
