"""Benchmark krafty as a runtime drives it, side by side with the reference Go `bridge` plugin.

Why this shape: a CNI plugin is one process per call, so what a runtime pays is the
whole process (interpreter start, imports, netlink, IPAM exec), not a function. Every call
here is the installed executable run through `nsenter --net=<node netns>` with the CNI
environment and the config on stdin, exactly as tests/netns/conftest.py's Runtime does,
and every figure comes from the same run on the same machine:

- A/B per verb (VERSION, STATUS, ADD, CHECK, DEL): krafty vs Go `bridge` + `host-local`
  (Debian's containernetworking-plugins, /usr/lib/cni), alternating which goes first,
  after a warm-up. Each plugin has its own throwaway node namespace so neither sees the
  other's devices. Wall time (median, p95) and CPU time (user+sys) come from os.wait4 on
  the child, so they include the IPAM plugin the child ran and waited for. Peak RSS comes
  from a short extra pass under GNU time (see measure() for why not wait4's ru_maxrss).
- Floors, measured in the same loop through the same nsenter wrapper on krafty's own
  interpreter: `python -I -S -c pass`, `python -c pass`, `python -c 'import pyroute2'`,
  and the kernel's veth teardown (`ip link del` of a veth pair whose peer is in a pod
  netns) plus, for reference, the teardown of krafty's whole device set (veth, bridge, VRF).
- Scaling: krafty ADD and DEL with 0/100/500 pods already attached (by krafty) on the
  node, and the throughput of 20 concurrent ADDs, then 20 concurrent DELs.

Everything lives in namespaces named kb-<pid>-..., removed at the end whatever happened
(also on Ctrl-C or SIGTERM). Needs root, `ip`, `nsenter`, the Go plugins and a kernel with
VRF; where the kernel lacks VRF run it in the VM:

    python3 -m krafty.testing.vm --rw $PWD --cwd $PWD -- /path/to/venv/bin/python bench/run.py --label vm

Under QEMU TCG absolute times are inflated 10-35x, unevenly (process start most, kernel
waits least): compare the ratios, which are measured in the same run. MISS next to a
target is a report, never a failure: the exit status is 0 whenever the benchmark ran to
the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PYTHON = Path(sys.executable)
KRAFTY = PYTHON.with_name("krafty")
CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
NETNS_DIR = Path("/run/netns")
GNU_TIME = "/usr/bin/time"  # Debian's `time` package: peak RSS of a call alone (see measure())
IFNAME = "net1"
PREFIX = f"kb-{os.getpid()}"

# The A/B network: docs/plugin.md's example config (krafty) and its Go bridge equivalent.
SUBNET, GATEWAY = "172.16.10.0/24", "172.16.10.1"
RANGE = {"subnet": SUBNET, "rangeStart": "172.16.10.10", "rangeEnd": "172.16.10.250"}
# Scaling needs room for 500 background pods plus the probes: a /21 on its own node.
SCALE_SUBNET, SCALE_GATEWAY = "172.16.8.0/21", "172.16.8.1"
SCALE_RANGE = {"subnet": SCALE_SUBNET, "rangeStart": "172.16.8.10", "rangeEnd": "172.16.15.250"}
SCALE_NET = (SCALE_SUBNET, SCALE_GATEWAY, SCALE_RANGE)
SCALE_CAPACITY = 1950  # addresses in SCALE_RANGE, minus headroom for probes and concurrent pods

VERBS = ("VERSION", "STATUS", "ADD", "CHECK", "DEL")
PLUGINS = ("krafty", "go")
PLUGIN_TITLES = {"krafty": "krafty", "go": "Go bridge"}

# Defaults per profile; explicit options win. Measured on 2 cores: native ~4 min with VRF (estimate),
# the VM profile ~8-10 min under TCG, quick ~4 min in the VM (every run prints its own estimates).
PROFILES: dict[str, dict[str, Any]] = {
    "native": {"runs": 30, "warmup": 3, "rss_runs": 3, "scale": (0, 100, 500), "scale_runs": 20, "rounds": 3},
    "vm": {"runs": 10, "warmup": 2, "rss_runs": 1, "scale": (0, 25, 50), "scale_runs": 3, "rounds": 1},
    "quick": {"runs": 3, "warmup": 1, "rss_runs": 1, "scale": (0, 20), "scale_runs": 2, "rounds": 1},
}
CONCURRENCY = 20

T = TypeVar("T")
Call = tuple[list[str], bytes, dict[str, str]]  # argv, stdin, environment


class BenchError(RuntimeError):
    """A call the benchmark depends on failed: figures from a broken run would mislead."""


# --- running children -------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One child process: wall and CPU time (os.wait4, so its waited-for children count too).

    maxrss_kib is set only for calls made with rss=True (see measure()).
    """

    wall: float  # seconds
    cpu: float  # seconds, user + sys
    maxrss_kib: int | None
    status: int
    stdout: bytes = b""
    stderr: bytes = b""

    def json(self) -> Any:
        """The CNI answer on stdout (result or error object), or None."""
        text = self.stdout.decode(errors="replace").strip()
        return json.loads(text) if text else None


class Children:
    """Every child in flight, so teardown can stop them before removing their namespaces."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def spawn(
        self, argv: Sequence[str], stdin: Any, stdout: Any, stderr: Any, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        with self._lock:
            if self.stopping:
                raise BenchError("interrupted")
            proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env)
            self._live[proc.pid] = proc
            return proc

    def reap(self, proc: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
        """wait4 instead of Popen.wait: it hands back this child's own rusage."""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        with self._lock:
            self._live.pop(proc.pid, None)
        return proc.returncode, usage

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            live = list(self._live.values())
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


CHILDREN = Children()


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def measure(argv: Sequence[str], stdin: bytes = b"", env: dict[str, str] | None = None, rss: bool = False) -> Sample:
    """Run argv once; only fork/exec to exit is timed (stdin and output are files prepared before).

    Peak RSS needs rss=True, which runs the call under GNU time and takes its %M: our own
    wait4's ru_maxrss cannot be used, because the kernel carries the forking process's
    high-water mark across exec, so every child would show this interpreter's ~20 MB. The
    extra process skews the timing, so rss calls are a separate pass.
    """
    with contextlib.ExitStack() as stack:
        inp, out, err, peak = (stack.enter_context(tempfile.NamedTemporaryFile()) for _ in range(4))
        inp.write(stdin)
        inp.flush()
        inp.seek(0)
        if rss:
            argv = [GNU_TIME, "-f", "%M", "-o", peak.name, *argv]
        start = time.perf_counter()
        proc = CHILDREN.spawn(argv, inp, out, err, env)
        status, usage = CHILDREN.reap(proc)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        # GNU time writes "Command exited with non-zero status N" before the figure on failure.
        figures = Path(peak.name).read_text().split() if rss else []
        maxrss = int(figures[-1]) if figures and figures[-1].isdigit() else None
        return Sample(wall, _cpu(usage), maxrss, status, out.read(), err.read())


def concurrently(argvs: Sequence[Call]) -> tuple[float, list[Sample]]:
    """Start every call at once; the wall time is first start to last exit."""
    with contextlib.ExitStack() as stack:
        files = [[stack.enter_context(tempfile.TemporaryFile()) for _ in range(3)] for _ in argvs]
        for (_, stdin, _), (inp, _, _) in zip(argvs, files, strict=True):
            inp.write(stdin)
            inp.seek(0)
        start = time.perf_counter()
        procs = [
            CHILDREN.spawn(argv, inp, out, err, env)
            for (argv, _, env), (inp, out, err) in zip(argvs, files, strict=True)
        ]
        reaped = [CHILDREN.reap(proc) for proc in procs]
        wall = time.perf_counter() - start
        samples = []
        for (status, usage), (_, out, err) in zip(reaped, files, strict=True):
            out.seek(0)
            err.seek(0)
            samples.append(Sample(math.nan, _cpu(usage), None, status, out.read(), err.read()))
        return wall, samples


def parallel(action: Callable[[T], Any], items: Iterable[T], jobs: int) -> None:
    """Run action over items on `jobs` threads; the first failure cancels what has not started."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in [pool.submit(action, item) for item in items]:
            future.result()
    except BaseException:
        CHILDREN.stop()  # the workers' children would otherwise run on after Ctrl-C or SIGTERM
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _sh(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BenchError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


# --- namespaces -------------------------------------------------------------------------


class Namespaces:
    """Throwaway network namespaces, created in batches (one `ip` process) and all removed."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def create(self, *roles: str) -> list[str]:
        names = [f"{PREFIX}-{role}" for role in roles]
        self.made.extend(names)  # before creating: a half-done batch is removed too
        _sh("ip", "-batch", "-", stdin="".join(f"netns add {name}\n" for name in names))
        return names

    def remove_all(self) -> None:
        left = [name for name in self.made if (NETNS_DIR / name).exists()]
        if left:
            subprocess.run(
                ["ip", "-force", "-batch", "-"],
                input="".join(f"netns del {name}\n" for name in left),
                capture_output=True,
                text=True,
                check=False,
            )
        self.made.clear()


def path(netns: str) -> str:
    return str(NETNS_DIR / netns)


def in_netns(netns: str, *argv: str) -> list[str]:
    return ["nsenter", f"--net={path(netns)}", *argv]


# --- plugins ----------------------------------------------------------------------------


@dataclass
class Plugin:
    """One CNI plugin on its own node namespace, called the way a runtime calls it."""

    name: str
    binary: str
    node: str
    cni_path: str
    conf: dict[str, Any]

    def env(self, command: str, container_id: str, netns: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": path(netns) if netns else "",
            "CNI_IFNAME": IFNAME,
            "CNI_PATH": self.cni_path,
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={container_id[:8]}",
        }

    def argv(self, command: str, container_id: str, netns: str, conf: dict[str, Any] | None = None) -> Call:
        stdin = json.dumps(conf or self.conf).encode()
        return in_netns(self.node, self.binary), stdin, self.env(command, container_id, netns)

    def call(
        self, command: str, container_id: str, netns: str, conf: dict[str, Any] | None = None, rss: bool = False
    ) -> Sample:
        argv, stdin, env = self.argv(command, container_id, netns, conf)
        sample = measure(argv, stdin, env, rss)
        if sample.status != 0:
            raise BenchError(f"{self.name} {command} failed ({sample.status}): {explain(sample)}")
        return sample

    def with_prev(self, result: Any) -> dict[str, Any]:
        return {**self.conf, "prevResult": result}


def explain(sample: Sample) -> str:
    stderr = sample.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return sample.stdout.decode(errors="replace").strip() + ("\n" + "\n".join(stderr) if stderr else "")


def new_container_id() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def krafty_conf(data_dir: Path, subnet: str, gateway: str, ranges: dict[str, str]) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "kb-krafty",
        "type": "krafty",
        "subnet": subnet,
        "gateway": gateway,
        "ipam": {
            "type": "host-local",
            "dataDir": str(data_dir),
            "ranges": [[ranges]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


def go_bridge_conf(data_dir: Path) -> dict[str, Any]:
    """The Go reference: one shared bridge per network, which is what "a bridge attach" costs."""
    return {
        "cniVersion": "1.0.0",
        "name": "kb-bridge",
        "type": "bridge",
        "bridge": "kbbr0",
        "isGateway": True,
        "ipam": {
            "type": "host-local",
            "dataDir": str(data_dir),
            "ranges": [[RANGE]],
            "routes": [{"dst": "0.0.0.0/0"}],
        },
    }


# STATUS without IPAM: a static podIP config, cniVersion 1.1.0 (STATUS exists from 1.1.0).
STATUS_CONF = {
    "cniVersion": "1.1.0",
    "name": "kb-krafty",
    "type": "krafty",
    "subnet": SUBNET,
    "gateway": GATEWAY,
    "podIP": "172.16.10.5",
}


# --- statistics -------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile: an observed value, no interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary(samples: Sequence[Sample], rss: Sequence[Sample] = ()) -> dict[str, Any]:
    """Timing from the measured samples; peak RSS from the separate rss pass, when there was one."""
    walls = [s.wall for s in samples]
    cpus = [s.cpu for s in samples]
    peaks = [s.maxrss_kib for s in rss if s.maxrss_kib is not None]
    return {
        "n": len(samples),
        "median_ms": statistics.median(walls) * 1e3,
        "p95_ms": p95(walls) * 1e3,
        "min_ms": min(walls) * 1e3,
        "mean_ms": statistics.fmean(walls) * 1e3,
        "cpu_median_ms": statistics.median(cpus) * 1e3,
        "maxrss_kib": max(peaks) if peaks else None,
        "wall_ms": [round(w * 1e3, 3) for w in walls],
        "cpu_ms": [round(c * 1e3, 3) for c in cpus],
    }


# --- the benchmark ----------------------------------------------------------------------


@dataclass
class Settings:
    runs: int
    warmup: int
    rss_runs: int
    scale: tuple[int, ...]
    scale_runs: int
    rounds: int
    concurrency: int
    jobs: int
    label: str
    in_vm: bool


@dataclass
class Bench:
    """Owns every namespace and temporary directory of the run; teardown() removes them."""

    settings: Settings
    cni_path: str
    netns: Namespaces = field(default_factory=Namespaces)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix=f"{PREFIX}-")))
    durations: dict[str, float] = field(default_factory=dict)

    def teardown(self) -> None:
        CHILDREN.stop()
        self.netns.remove_all()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        print(f"... {name}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            self.durations[name] = time.perf_counter() - start

    def progress(self, what: str, done: int, total: int) -> None:
        """One rewritten line on a terminal, a line per tenth otherwise.

        The VM's console is a tty inside and a pipe outside, where carriage returns glue lines.
        """
        if sys.stderr.isatty() and not self.settings.in_vm:
            end = "\n" if done == total else ""
            print(f"\r    {what}: {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"    {what}: {done}/{total}", file=sys.stderr, flush=True)

    def data_dir(self, name: str) -> Path:
        directory = self.tmp / name
        directory.mkdir()
        return directory

    # A/B with floors ---------------------------------------------------------------------

    def ab(self) -> dict[str, Any]:
        """Alternate krafty and Go per iteration (who goes first flips), floors in the same loop.

        Then a short pass of the same iterations under GNU time, for peak RSS only.
        """
        knode, gnode, kpod, gpod, fpod = self.netns.create("node-k", "node-g", "pod-k", "pod-g", "pod-f")
        kconf = krafty_conf(self.data_dir("k"), SUBNET, GATEWAY, RANGE)
        gconf = go_bridge_conf(self.data_dir("g"))
        plugins = {
            "krafty": (Plugin("krafty", str(KRAFTY), knode, self.cni_path, kconf), kpod),
            "go": (Plugin("go", str(Path(self.cni_path, "bridge")), gnode, self.cni_path, gconf), gpod),
        }
        timed: dict[str, list[Sample]] = {}
        peaks: dict[str, list[Sample]] = {}
        settings = self.settings
        passes = [(timed, settings.warmup + settings.runs, settings.warmup, False)]
        passes.append((peaks, settings.rss_runs, 0, True))
        for into, total, warmup, rss in passes:
            for i in range(total):
                order = PLUGINS if i % 2 == 0 else PLUGINS[::-1]
                got = self._iteration(plugins, order, (knode, fpod), rss)
                if i >= warmup:
                    for key, sample in got.items():
                        into.setdefault(key, []).append(sample)
                self.progress("A/B, peak RSS pass" if rss else "A/B", i + 1, total)
        return {
            "verbs": {
                p: {v: summary(timed[f"{p} {v}"], peaks.get(f"{p} {v}", ())) for v in VERBS if f"{p} {v}" in timed}
                for p in PLUGINS
            },
            "floors": {name: summary(timed[name], peaks.get(name, ())) for name in FLOORS},
            "node_links_after": {p: node_links(plugin.node) for p, (plugin, _) in plugins.items()},
        }

    @staticmethod
    def _iteration(
        plugins: dict[str, tuple[Plugin, str]], order: Sequence[str], floor_ns: tuple[str, str], rss: bool
    ) -> dict[str, Sample]:
        """One round of every verb for both plugins, and every floor; keys are "<plugin> <verb>" or a floor."""
        got: dict[str, Sample] = {}
        ids = {p: new_container_id() for p in PLUGINS}
        for p in order:
            got[f"{p} VERSION"] = plugins[p][0].call("VERSION", "", "", rss=rss)
        got["krafty STATUS"] = plugins["krafty"][0].call("STATUS", "", "", STATUS_CONF, rss=rss)
        for name, floor in FLOORS.items():
            got[name] = floor(*floor_ns, rss)
        for verb in ("ADD", "CHECK", "DEL"):
            for p in order:
                plugin, pod = plugins[p]
                conf = plugin.with_prev(got[f"{p} ADD"].json()) if verb != "ADD" else None
                got[f"{p} {verb}"] = plugin.call(verb, ids[p], pod, conf, rss=rss)
        return got

    # scaling and throughput --------------------------------------------------------------

    def scaling(self) -> dict[str, Any]:
        """ADD/DEL with N pods already attached; throughput at the empty node first.

        At every level above 0 the probe alternates with the same calls on an empty reference
        node, so "ADD at N vs ADD at 0" is a paired ratio from the same minutes: drift (another
        VM starting, TCG's translation cache) between levels cannot pass for a scaling effect.
        """
        settings = self.settings
        node, empty, probe, probe_ref = self.netns.create("node-s", "node-e", "probe", "probe-e")
        loaded = Plugin("krafty", str(KRAFTY), node, self.cni_path, krafty_conf(self.data_dir("s"), *SCALE_NET))
        reference = Plugin("krafty", str(KRAFTY), empty, self.cni_path, krafty_conf(self.data_dir("e"), *SCALE_NET))
        out: dict[str, Any] = {"levels": [], "throughput": []}

        with self.phase("throughput"):
            pods = self.netns.create(*(f"c{i}" for i in range(settings.concurrency)))
            for r in range(settings.rounds):
                out["throughput"].append(self._throughput(loaded, pods))
                self.progress("throughput", r + 1, settings.rounds)

        attached = 0
        for level in settings.scale:
            attach_seconds = 0.0
            if level > attached:
                with self.phase(f"attach {attached}->{level}"):
                    self._attach_background(loaded, attached, level)
                attach_seconds = self.durations[f"attach {attached}->{level}"]
            probes = [(loaded, probe)] + ([(reference, probe_ref)] if level else [])
            got: list[dict[str, list[Sample]]] = [{"ADD": [], "DEL": []} for _ in probes]
            with self.phase(f"scale {level}"):
                total = settings.warmup + settings.scale_runs
                for i in range(total):
                    for k in range(len(probes))[:: 1 if i % 2 == 0 else -1]:
                        plugin, pod = probes[k]
                        cid = new_container_id()
                        add = plugin.call("ADD", cid, pod)
                        delete = plugin.call("DEL", cid, pod, plugin.with_prev(add.json()))
                        if i >= settings.warmup:
                            got[k]["ADD"].append(add)
                            got[k]["DEL"].append(delete)
                    self.progress(f"scale {level}", i + 1, total)
            entry = {
                "pods": level,
                "ADD": summary(got[0]["ADD"]),
                "DEL": summary(got[0]["DEL"]),
                "attach_seconds": attach_seconds,
            }
            if level:
                entry["reference_ADD"] = summary(got[1]["ADD"])
                entry["reference_DEL"] = summary(got[1]["DEL"])
            out["levels"].append(entry)
            attached = level
        out["node_links_at_end"] = len(node_links(node))
        return out

    def _throughput(self, plugin: Plugin, pods: Sequence[str]) -> dict[str, Any]:
        ids = [new_container_id() for _ in pods]
        add_wall, adds = concurrently([plugin.argv("ADD", cid, pod) for cid, pod in zip(ids, pods, strict=True)])
        results = [s.json() if s.status == 0 else None for s in adds]
        del_wall, dels = concurrently(
            [
                plugin.argv("DEL", cid, pod, plugin.with_prev(result) if result else None)
                for cid, pod, result in zip(ids, pods, results, strict=True)
            ]
        )
        failed = [explain(s) for s in [*adds, *dels] if s.status != 0]
        if failed:
            raise BenchError(f"{len(failed)} concurrent calls failed, first: {failed[0]}")
        return {
            "pods": len(pods),
            "add_seconds": add_wall,
            "add_pods_per_s": len(pods) / add_wall,
            "del_seconds": del_wall,
            "del_pods_per_s": len(pods) / del_wall,
            "add_cpu_ms_median": statistics.median(s.cpu for s in adds) * 1e3,
        }

    def _attach_background(self, plugin: Plugin, have: int, want: int) -> None:
        """Background pods, attached by krafty itself on `jobs` workers (nobody measures these)."""
        names = self.netns.create(*(f"bg{i}" for i in range(have, want)))
        done = [have]
        lock = threading.Lock()

        def attach(netns: str) -> None:
            plugin.call("ADD", new_container_id(), netns)
            with lock:
                done[0] += 1
                self.progress(f"attach to {want}", done[0], want)

        parallel(attach, names, self.settings.jobs)


def node_links(netns: str) -> list[str]:
    """Links left in a node namespace: a plugin that leaks devices would skew later figures."""
    text = _sh(*in_netns(netns, "ip", "-o", "link", "show"))
    return sorted(line.split(": ")[1].split("@")[0] for line in text.splitlines() if ": " in line)


# --- floors -----------------------------------------------------------------------------


def _python(*args: str) -> Callable[[str, str, bool], Sample]:
    return lambda node, _pod, rss: _checked(measure(in_netns(node, str(PYTHON), *args), rss=rss))


def _veth_teardown(node: str, pod: str, rss: bool) -> Sample:
    """`ip link del` of a veth pair whose peer is in a pod netns: the kernel's irreducible DEL work."""
    _sh(*in_netns(node, "ip", "link", "add", "kbv0", "type", "veth", "peer", "name", "eth9", "netns", pod))
    return _checked(measure(in_netns(node, "ip", "link", "del", "kbv0"), rss=rss))


def _device_set_teardown(node: str, pod: str, rss: bool) -> Sample:
    """krafty's three devices (veth on a bridge in a VRF) deleted by one `ip -batch`: DEL's kernel floor."""
    setup = (
        "link add kbr0 type vrf table 4242\nlink set kbr0 up\nlink add kbb0 type bridge\n"
        "link set kbb0 master kbr0 up\n"
        f"link add kbv0 type veth peer name eth9 netns {pod}\nlink set kbv0 master kbb0 up\n"
    )
    _sh(*in_netns(node, "ip", "-batch", "-"), stdin=setup)
    stdin = b"link del kbv0\nlink del kbb0\nlink del kbr0\n"
    return _checked(measure(in_netns(node, "ip", "-batch", "-"), stdin, rss=rss))


def _checked(sample: Sample) -> Sample:
    if sample.status != 0:
        raise BenchError(f"floor measurement failed: {explain(sample)}")
    return sample


FLOORS: dict[str, Callable[[str, str, bool], Sample]] = {
    "python -I -S -c pass": _python("-I", "-S", "-c", "pass"),
    "python -c pass": _python("-c", "pass"),
    "python -c 'import pyroute2'": _python("-c", "import pyroute2"),
    "veth teardown": _veth_teardown,
    "veth+bridge+VRF teardown": _device_set_teardown,
}
F_BARE, F_SITE, F_PYROUTE2, F_VETH, F_SET = FLOORS


# --- report -----------------------------------------------------------------------------


def targets(ab: dict[str, Any], scaling: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The performance targets, each as value vs limit (a report: MISS never fails the run)."""
    floors, krafty = ab["floors"], ab["verbs"]["krafty"]
    bare, pyroute2, veth = (floors[k]["median_ms"] for k in (F_BARE, F_PYROUTE2, F_VETH))
    rows = [
        ("VERSION median", krafty["VERSION"]["median_ms"], 2 * bare, f"2 x python -I -S -c pass ({bare:.1f} ms)"),
        ("STATUS median (podIP, 1.1.0)", krafty["STATUS"]["median_ms"], 2 * bare, "2 x python -I -S -c pass"),
        ("ADD median", krafty["ADD"]["median_ms"], 1.25 * pyroute2, f"1.25 x import pyroute2 ({pyroute2:.1f} ms)"),
        (
            "DEL median",
            krafty["DEL"]["median_ms"],
            1.25 * pyroute2 + veth,
            f"1.25 x import pyroute2 + veth teardown ({veth:.1f} ms)",
        ),
    ]
    levels = {lvl["pods"]: lvl for lvl in (scaling or {}).get("levels", [])}
    if levels and max(levels) > 0:
        top = levels[max(levels)]
        base = top["reference_ADD"]["median_ms"]
        note = "" if top["pods"] == 500 else f"; the target is at 500, measured at {top['pods']}"
        rule = f"1.2 x ADD on an empty node, paired ({base:.1f} ms{note})"
        rows.append((f"ADD median at {top['pods']} pods", top["ADD"]["median_ms"], 1.2 * base, rule))
    return [
        {"target": name, "value_ms": value, "limit_ms": limit, "rule": rule, "pass": value <= limit}
        for name, value, limit, rule in rows
    ]


def _ms(value: float) -> str:
    return f"{value:8.1f} ms" if value < 10_000 else f"{value / 1e3:8.2f} s "


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def _table(rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)) -> str:
    """Text columns (left) flush left, figures flush right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = (
        "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )
    return "\n".join(line.rstrip() for line in lines)


def render(report: dict[str, Any]) -> str:
    ab, meta = report["ab"], report["meta"]
    floors, verbs = ab["floors"], ab["verbs"]
    host = meta["machine"]
    lines = [
        f"krafty benchmark [{meta['label']}] {meta['started']}  {host['cpu']} x{host['cpus']},"
        f" kernel {host['kernel']}, Python {host['python']}, pyroute2 {host['pyroute2']}",
        f"runs {meta['settings']['runs']} (+{meta['settings']['warmup']} warm-up), alternating krafty/Go;"
        f" load average {meta['load_before'][0]:.2f} before, {meta['load_after'][0]:.2f} after",
    ]
    if meta["in_vm"]:
        lines.append(
            "NOTE: running in a QEMU VM (TCG emulation): absolute times are inflated, and unevenly (process start"
            " ~30x, Python code ~20x, kernel teardown ~10x): compare ratios, and judge targets on a native run."
        )
    if host["krafty_editable"]:
        lines.append(
            "NOTE: krafty is an editable install here: its site hook costs every call ~12 ms (see python -c pass);"
            " a regular install (`make venv`) does not pay it."
        )
    if meta.get("other_vms"):
        lines.append(f"NOTE: {meta['other_vms']} other QEMU VM(s) were running: figures may be distorted.")
    lines.append("")
    rows = [["verb", "plugin", "median", "p95", "cpu", "peak RSS", "krafty/Go", "krafty/floor", "floor"]]
    floor_of = {"VERSION": F_BARE, "STATUS": F_BARE, "ADD": F_PYROUTE2, "CHECK": F_PYROUTE2, "DEL": F_PYROUTE2}
    for verb in VERBS:
        for p in PLUGINS:
            s = verbs[p].get(verb)
            if s is None:
                continue
            ratio_go = ratio_floor = floor_name = ""
            if p == "krafty":
                floor = floors[floor_of[verb]]["median_ms"]
                floor_name = floor_of[verb]
                if verb == "DEL":
                    floor += floors[F_VETH]["median_ms"]
                    floor_name += " + veth teardown"
                ratio_floor = _ratio(s["median_ms"] / floor)
                if verb in verbs["go"]:
                    ratio_go = _ratio(s["median_ms"] / verbs["go"][verb]["median_ms"])
            rows.append(
                [
                    verb,
                    PLUGIN_TITLES[p],
                    _ms(s["median_ms"]),
                    _ms(s["p95_ms"]),
                    _ms(s["cpu_median_ms"]),
                    _mib(s["maxrss_kib"]),
                    ratio_go,
                    ratio_floor,
                    floor_name,
                ]
            )
    lines += [_table(rows, left=(0, 1, 8)), ""]
    rows = [["floor (same interpreter, same nsenter)", "median", "p95", "cpu", "peak RSS"]]
    for name, s in floors.items():
        rows.append([name, _ms(s["median_ms"]), _ms(s["p95_ms"]), _ms(s["cpu_median_ms"]), _mib(s["maxrss_kib"])])
    import_only = floors[F_PYROUTE2]["median_ms"] - floors[F_SITE]["median_ms"]
    rows.append(["import pyroute2 alone (difference)", _ms(import_only), "", "", ""])
    lines += [_table(rows)]
    left = "; ".join(f"{PLUGIN_TITLES[p]}: {', '.join(links)}" for p, links in ab["node_links_after"].items())
    lines += [f"node devices after the A/B loop (leaks would skew later calls): {left}", ""]

    scaling = report.get("scaling")
    if scaling:
        head = [
            "pods on node",
            "ADD median",
            "ADD p95",
            "DEL median",
            "DEL p95",
            "empty node ADD / DEL",
            "ratio ADD / DEL",
        ]
        rows = [[*head, "attach time"]]
        for lvl in scaling["levels"]:
            paired = ratios = "-"
            if "reference_ADD" in lvl:
                ref_add, ref_del = lvl["reference_ADD"]["median_ms"], lvl["reference_DEL"]["median_ms"]
                paired = f"{_ms(ref_add).strip()} / {_ms(ref_del).strip()}"
                ratios = f"{_ratio(lvl['ADD']['median_ms'] / ref_add)} / {_ratio(lvl['DEL']['median_ms'] / ref_del)}"
            rows.append(
                [
                    str(lvl["pods"]),
                    _ms(lvl["ADD"]["median_ms"]),
                    _ms(lvl["ADD"]["p95_ms"]),
                    _ms(lvl["DEL"]["median_ms"]),
                    _ms(lvl["DEL"]["p95_ms"]),
                    paired,
                    ratios,
                    _duration(lvl["attach_seconds"]),
                ]
            )
        lines += [_table(rows), "(empty node: the same calls alternated with the probe on a node without pods)"]
        for t in scaling["throughput"]:
            lines.append(
                f"{t['pods']} concurrent ADDs: {t['add_pods_per_s']:.1f} pods/s ({t['add_seconds']:.2f} s);"
                f" {t['pods']} concurrent DELs: {t['del_pods_per_s']:.1f} pods/s ({t['del_seconds']:.2f} s)"
            )
        lines.append("")
    rows = [["target", "value", "limit", "", "rule"]]
    for t in report["targets"]:
        rows.append([t["target"], _ms(t["value_ms"]), _ms(t["limit_ms"]), "PASS" if t["pass"] else "MISS", t["rule"]])
    lines += [_table(rows, left=(0, 4)), ""]
    phases = ", ".join(f"{name} {_duration(secs)}" for name, secs in report["durations"].items())
    lines.append(f"durations: {phases}")
    guesses = ", ".join(f"{name} ~{_duration(secs)}" for name, secs in report["estimates"].items())
    lines.append(f"at this speed the default profiles would take: {guesses}")
    return "\n".join(lines)


def estimate(report: dict[str, Any], settings: Settings) -> dict[str, float]:
    """Seconds each profile would take at the speed just measured: sizes --runs/--scale for a machine or the VM.

    Rough: per-call costs are taken as measured, background attach scales linearly.
    """
    durations, scaling = report["durations"], report.get("scaling")
    per_iteration = durations["A/B and floors"] / (settings.warmup + settings.runs + settings.rss_runs)
    per_round = durations.get("throughput", 0.0) / settings.rounds
    per_pair = per_pod = 0.0
    if scaling and scaling["levels"]:
        levels = scaling["levels"]
        per_pair = statistics.fmean(lvl["ADD"]["median_ms"] + lvl["DEL"]["median_ms"] for lvl in levels) / 1e3
        top = max(lvl["pods"] for lvl in levels)
        per_pod = sum(lvl["attach_seconds"] for lvl in levels) / top if top else 0.0
    out = {}
    for name, profile in PROFILES.items():
        seconds = per_iteration * (profile["warmup"] + profile["runs"] + profile["rss_runs"])
        if scaling:
            seconds += per_round * profile["rounds"] + per_pod * max(profile["scale"])
            probes = 2 * len(profile["scale"]) - (0 in profile["scale"])  # levels above 0 add the empty node
            seconds += per_pair * (profile["warmup"] + profile["scale_runs"]) * probes
        out[name] = seconds
    return out


def plot(report: dict[str, Any], png: Path) -> None:
    """Latency per verb (median bars, p95 whiskers, floors as lines) and the scaling curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ab, meta = report["ab"], report["meta"]
    scaling = report.get("scaling")
    fig, axes = plt.subplots(1, 2 if scaling else 1, figsize=(13 if scaling else 7, 5), squeeze=False)
    ax = axes[0][0]
    width = 0.38
    for k, p in enumerate(PLUGINS):
        xs, med, top = [], [], []
        for i, verb in enumerate(VERBS):
            s = ab["verbs"][p].get(verb)
            if s:
                xs.append(i + (k - 0.5) * width)
                med.append(s["median_ms"])
                top.append(s["p95_ms"])
        up = [t - m for t, m in zip(top, med, strict=True)]
        ax.bar(xs, med, width, yerr=[[0] * len(up), up], capsize=3, label=PLUGIN_TITLES[p])
        for x, m, t in zip(xs, med, top, strict=True):
            ax.annotate(f"{m:.0f}" if m >= 10 else f"{m:.1f}", (x, t * 1.04), ha="center", va="bottom", fontsize=7)
    for name, style in ((F_BARE, ":"), (F_PYROUTE2, "--")):
        ax.axhline(ab["floors"][name]["median_ms"], linestyle=style, color="grey", linewidth=1, label=name)
    ax.set_xticks(range(len(VERBS)), VERBS)
    ax.set_yscale("log")
    highest = max(s["p95_ms"] for verbs in ab["verbs"].values() for s in verbs.values())
    ax.set_ylim(top=max(highest, ab["floors"][F_PYROUTE2]["median_ms"]) * 5)  # headroom for the legend
    ax.set_ylabel("wall time per call, ms (median; whisker to p95)")
    ax.set_title("latency per verb")
    ax.legend(fontsize=8, loc="upper left")
    if scaling:
        ax = axes[0][1]
        pods = [lvl["pods"] for lvl in scaling["levels"]]
        for verb in ("ADD", "DEL"):
            med = [lvl[verb]["median_ms"] for lvl in scaling["levels"]]
            up = [lvl[verb]["p95_ms"] - lvl[verb]["median_ms"] for lvl in scaling["levels"]]
            line = ax.errorbar(pods, med, yerr=[[0] * len(up), up], marker="o", capsize=3, label=f"krafty {verb}")
            ref = [(lvl["pods"], lvl[f"reference_{verb}"]["median_ms"]) for lvl in scaling["levels"] if lvl["pods"]]
            ref = [(0, med[0]), *ref] if pods[0] == 0 else ref
            ax.plot(
                [x for x, _ in ref],
                [y for _, y in ref],
                linestyle=":",
                marker="x",
                color=line.lines[0].get_color(),
                label=f"{verb} on an empty node, paired",
            )
        ax.set_xticks(pods)
        ax.set_xlabel("pods already attached on the node")
        ax.set_ylabel("wall time per call, ms (median; whisker to p95)")
        ax.set_ylim(bottom=0)
        tp = scaling["throughput"]
        if tp:
            add = statistics.median(t["add_pods_per_s"] for t in tp)
            dele = statistics.median(t["del_pods_per_s"] for t in tp)
            ax.set_title(f"scaling; {tp[0]['pods']} concurrent: ADD {add:.1f} pods/s, DEL {dele:.1f} pods/s")
        ax.legend(fontsize=8)
    title = f"krafty vs Go bridge [{meta['label']}], {meta['started']}, {meta['machine']['cpus']} CPUs"
    if meta["in_vm"]:
        title += " - QEMU TCG: absolute times inflated, compare ratios"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


# --- environment ------------------------------------------------------------------------


def detect_vm() -> bool:
    """The caller says so (KRAFTY_IN_VM=1), or the DMI vendor is QEMU (krafty.testing.vm's q35 guest)."""
    if os.environ.get("KRAFTY_IN_VM") == "1":
        return True
    with contextlib.suppress(OSError):
        return Path("/sys/class/dmi/id/sys_vendor").read_text().strip() == "QEMU"
    return False


def has_vrf() -> bool:
    probe = ["unshare", "--net", "ip", "link", "add", "probe", "type", "vrf", "table", "4242"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("pyroute2", "krafty"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "?"
    try:
        direct_url = json.loads(metadata.distribution("krafty").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        direct_url = {}
    plugins = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "interpreter": str(PYTHON),
        "pyroute2": versions["pyroute2"],
        "krafty": versions["krafty"],
        # An editable install's site hook costs every call ~12 ms: benchmark a regular install.
        "krafty_editable": bool(direct_url.get("dir_info", {}).get("editable")),
        "containernetworking_plugins": plugins.stdout.strip() or "?",
        "hostname": platform.node(),
    }


def other_vms() -> int:
    """QEMU VMs running next to us (another engineer's test session) distort the figures."""
    found = subprocess.run(["pgrep", "-f", "^qemu-system"], capture_output=True, text=True, check=False)
    return len(found.stdout.split())


def find_cni_path() -> str | None:
    for directory in CNI_DIRS:
        if all(Path(directory, name).is_file() for name in ("host-local", "bridge")):
            return directory
    return None


# --- command line -----------------------------------------------------------------------


def scale_list(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of pod counts: {text}") from None
    if not levels or levels[0] < 0 or levels[-1] > SCALE_CAPACITY:
        raise argparse.ArgumentTypeError(f"pod counts must be 0-{SCALE_CAPACITY}")
    return levels if levels[0] == 0 else (0, *levels)


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark krafty side by side with the Go bridge plugin (root, throwaway netns).",
        epilog="Defaults come from a profile: native, vm (detected or --label vm) or --quick; options override.",
    )

    def defaults(key: str) -> str:
        return "; ".join(f"{name} {_show(profile[key])}" for name, profile in PROFILES.items())

    parser.add_argument("--runs", type=positive, help=f"measured A/B iterations ({defaults('runs')})")
    parser.add_argument("--warmup", type=int, help=f"discarded iterations first ({defaults('warmup')})")
    parser.add_argument(
        "--rss-runs", type=int, help=f"iterations of the peak-RSS pass, 0: none ({defaults('rss_runs')})"
    )
    parser.add_argument("--scale", type=scale_list, help=f"pods on the node, scaling curve ({defaults('scale')})")
    parser.add_argument("--scale-runs", type=positive, help=f"ADD/DEL pairs per scale level ({defaults('scale_runs')})")
    parser.add_argument("--rounds", type=positive, help=f"rounds of concurrent ADDs then DELs ({defaults('rounds')})")
    parser.add_argument("--concurrency", type=positive, default=CONCURRENCY, help="concurrent calls (default 20)")
    parser.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, help="workers attaching background pods")
    parser.add_argument("--no-scaling", action="store_true", help="only the A/B comparison and floors")
    parser.add_argument("--quick", action="store_true", help="smoke run: the quick profile")
    parser.add_argument("--label", help="names the run; 'vm' (or KRAFTY_IN_VM=1, or a QEMU guest) = VM profile")
    parser.add_argument("--json", type=Path, default=RESULTS / "bench.json", help="default bench/results/bench.json")
    parser.add_argument("--png", type=Path, default=RESULTS / "bench.png", help="default bench/results/bench.png")
    args = parser.parse_args(argv)
    in_vm = args.label == "vm" or detect_vm()
    label = args.label or ("vm" if in_vm else "native")
    profile = PROFILES["quick" if args.quick else "vm" if in_vm else "native"]
    settings = Settings(
        runs=args.runs or profile["runs"],
        warmup=profile["warmup"] if args.warmup is None else max(0, args.warmup),
        rss_runs=profile["rss_runs"] if args.rss_runs is None else max(0, args.rss_runs),
        scale=() if args.no_scaling else (args.scale or profile["scale"]),
        scale_runs=args.scale_runs or profile["scale_runs"],
        rounds=args.rounds or profile["rounds"],
        concurrency=args.concurrency,
        jobs=args.jobs,
        label=label + ("-quick" if args.quick and not args.label else ""),
        in_vm=in_vm,
    )
    return args, settings


def _interrupt(signum: int, _frame: Any) -> None:
    """SIGTERM (a killed VM session, a CI timeout) must tear down like Ctrl-C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str]) -> int:
    args, settings = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/run.py needs root (it creates network namespaces)", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "nsenter", "unshare") if shutil.which(tool) is None]
    cni_path = find_cni_path()
    if missing or cni_path is None or not KRAFTY.exists():
        print(
            f"missing: {', '.join(missing) or '-'}; Go plugins (bridge, host-local in {' or '.join(CNI_DIRS)}):"
            f" {'found' if cni_path else 'missing'}; {KRAFTY}: {'found' if KRAFTY.exists() else 'missing'}",
            file=sys.stderr,
        )
        return 2
    if not has_vrf():
        print(
            "this kernel cannot create VRF devices, so krafty cannot run here; run the benchmark in the VM:\n"
            f"  python3 -m krafty.testing.vm --rw {HERE.parent} --cwd {HERE.parent} --"
            f" {PYTHON} bench/run.py --label vm",
            file=sys.stderr,
        )
        return 3
    if settings.rss_runs and not Path(GNU_TIME).exists():
        print(f"{GNU_TIME} (Debian package `time`) is missing: no peak RSS figures", file=sys.stderr)
        settings.rss_runs = 0
    signal.signal(signal.SIGTERM, _interrupt)
    neighbours = 0 if settings.in_vm else other_vms()
    if neighbours:
        print(f"warning: {neighbours} QEMU VM(s) running on this machine: figures will be distorted", file=sys.stderr)
    meta = {
        "label": settings.label,
        "in_vm": settings.in_vm,
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": {k: v for k, v in settings.__dict__.items() if k not in ("label", "in_vm")},
        "load_before": os.getloadavg(),
        "other_vms": neighbours,
        "method": (
            "each call is the installed executable run through nsenter --net=<node netns> with the CNI environment"
            " and the config on stdin; wall time from fork to wait4, CPU (user+sys) and peak RSS from wait4's rusage,"
            " which includes the IPAM plugin the call ran; p95 is nearest-rank"
        ),
    }
    bench = Bench(settings, cni_path)
    report: dict[str, Any] = {"meta": meta}
    start = time.perf_counter()
    try:
        with bench.phase("A/B and floors"):
            report["ab"] = bench.ab()
        if settings.scale:
            report["scaling"] = bench.scaling()
    except (BenchError, KeyboardInterrupt) as err:
        print(f"\nbench/run.py: {str(err) or 'interrupted'}; tearing down", file=sys.stderr)
        return 130 if isinstance(err, KeyboardInterrupt) else 1
    finally:
        bench.teardown()
    bench.durations["total"] = time.perf_counter() - start
    meta["load_after"] = os.getloadavg()
    report["durations"] = bench.durations
    report["targets"] = targets(report["ab"], report.get("scaling"))
    report["estimates"] = estimate(report, settings)
    print(render(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    try:
        plot(report, args.png)
        print(f"wrote {args.png}")
    except ImportError:
        print("matplotlib is missing (pip install 'krafty[bench]'): no plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
