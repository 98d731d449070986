"""The schedule: which calls run in which order, so that every comparison is paired.

- A/B per verb (VERSION, STATUS, ADD, CHECK, DEL): krafty vs Go `bridge` + `host-local`,
  alternating which goes first, after a warm-up, with the floors (floors.py) measured in the
  same loop. Then a short pass of the same iterations under GNU time, for peak RSS only.
- Scaling: krafty ADD and DEL with 0/100/500 pods already attached (by krafty) on the node,
  each level above 0 paired with the same calls on an empty node, and the throughput of 20
  concurrent ADDs, then 20 concurrent DELs.

Interleaving is the point: on a shared machine or a VM, drift (another process, TCG's
translation cache) hits both sides of a ratio equally. A call also needs its own set-up (a
fresh container ID and pod netns for ADD, an ADD before each CHECK and DEL), so the loop
here drives every call itself rather than handing a benchmark to a generic runner.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from children import CHILDREN, BenchError, Sample, concurrently, parallel
from floors import FLOORS
from node import (
    GATEWAY,
    KRAFTY,
    PLUGINS,
    PREFIX,
    RANGE,
    SCALE_NET,
    STATUS_CONF,
    SUBNET,
    VERBS,
    Namespaces,
    Plugin,
    explain,
    go_bridge_conf,
    krafty_conf,
    new_container_id,
    node_links,
)
from stats import summary

# Defaults per profile; explicit options win. Measured on 2 cores: native ~4 min with VRF (estimate),
# the VM profile ~8-10 min under TCG, quick ~4 min in the VM (every run prints its own estimates).
PROFILES: dict[str, dict[str, Any]] = {
    "native": {"runs": 30, "warmup": 3, "rss_runs": 3, "scale": (0, 100, 500), "scale_runs": 20, "rounds": 3},
    "vm": {"runs": 10, "warmup": 2, "rss_runs": 1, "scale": (0, 25, 50), "scale_runs": 3, "rounds": 1},
    "quick": {"runs": 3, "warmup": 1, "rss_runs": 1, "scale": (0, 20), "scale_runs": 2, "rounds": 1},
}
CONCURRENCY = 20


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
    # The discarded warm-up calls, for the pyperf file only (suite.py): keyed "<plugin> <verb>" or a
    # floor's name in the A/B, "scale <pods> <verb>" or "scale <pods> reference_<verb>" in scaling.
    warmups: dict[str, list[Sample]] = field(default_factory=dict)

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
                for key, sample in got.items():
                    (into if i >= warmup else self.warmups).setdefault(key, []).append(sample)
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
                        else:
                            for verb, sample in (("ADD", add), ("DEL", delete)):
                                key = f"scale {level} {'reference_' if k else ''}{verb}"
                                self.warmups.setdefault(key, []).append(sample)
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
