"""The run as a pyperf benchmark suite (bench.pyperf.json), so pyperf's own tools read it.

pyperf (CPython's benchmark tool) already has a result format and the comparison of two
results, so this benchmark writes its samples in that format rather than growing its own:

    python -m pyperf stats bench/results/bench.pyperf.json
    python -m pyperf compare_to --table old.pyperf.json new.pyperf.json

(`compare_to` tests each benchmark's difference for significance; `hist`, `dump` (with the
warm-ups) and `metadata` work too). Each series of calls is one pyperf benchmark holding one run (the
one interleaved session, see run.py for why pyperf's runner does not drive it), one call per
value (loops=1): wall time in seconds, its warm-up calls as pyperf warm-ups, the peak RSS
pass as command_max_rss, pyperf's metadata of the machine plus krafty's, pyroute2's and the
Go plugins' versions. CPU time (user+sys) is a second benchmark, "<name> cpu". The values
are bench.json's, so both files describe the same calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from children import Sample
from node import PLUGIN_TITLES

if TYPE_CHECKING:
    import pyperf

# (pyperf name, key of Bench.warmups, summary from stats.summary)
Series = tuple[str, str, dict[str, Any]]


def series(report: dict[str, Any]) -> Iterator[Series]:
    """Every summarised series of the report, named for pyperf's listings."""
    for plugin, verbs in report["ab"]["verbs"].items():
        for verb, figures in verbs.items():
            yield f"{PLUGIN_TITLES[plugin]} {verb}", f"{plugin} {verb}", figures
    for name, figures in report["ab"]["floors"].items():
        yield f"floor: {name}", name, figures
    for level in (report.get("scaling") or {}).get("levels", []):
        pods = level["pods"]
        for verb in ("ADD", "DEL"):
            yield f"krafty {verb}, {pods} pods on the node", f"scale {pods} {verb}", level[verb]
            if f"reference_{verb}" in level:
                name = f"krafty {verb}, empty node paired with {pods} pods"
                yield name, f"scale {pods} reference_{verb}", level[f"reference_{verb}"]


def suite(report: dict[str, Any], warmups: dict[str, list[Sample]]) -> pyperf.BenchmarkSuite:
    import pyperf

    meta = report["meta"]
    host = meta["machine"]
    common = {
        # pyperf's own description of this machine and interpreter (collected once: it reads /proc and more)
        **pyperf.Run([1.0], metadata={"name": "-"}).get_metadata(),
        "unit": "second",
        "loops": 1,
        "bench_label": meta["label"],
        "bench_in_vm": int(meta["in_vm"]),
        "krafty_version": host["krafty"],
        "pyroute2_version": host["pyroute2"],
        "go_plugins_version": host["containernetworking_plugins"],
    }
    del common["name"]
    common.pop("mem_max_rss", None)  # this process's, not a call's: command_max_rss is the call's

    def benchmark(name: str, values: Sequence[float], warm: Sequence[float], **metadata: Any) -> pyperf.Benchmark:
        run = pyperf.Run(
            values,
            warmups=[(1, value) for value in warm],
            metadata={**common, "name": name, **metadata},
            collect_metadata=False,
        )
        return pyperf.Benchmark([run])

    benchmarks = []
    for name, key, figures in series(report):
        warm = warmups.get(key, [])
        rss = {"command_max_rss": figures["maxrss_kib"] * 1024} if figures["maxrss_kib"] else {}
        benchmarks.append(benchmark(name, [ms / 1e3 for ms in figures["wall_ms"]], [s.wall for s in warm], **rss))
        cpu = [ms / 1e3 for ms in figures["cpu_ms"]]
        if min(cpu) > 0:  # pyperf takes values > 0 only; a call too short for the CPU clock has no CPU series
            benchmarks.append(benchmark(f"{name} cpu", cpu, [s.cpu for s in warm]))
    rounds = (report.get("scaling") or {}).get("throughput", [])
    if rounds:  # one value per round: the wall time of all the concurrent calls
        for verb in ("ADD", "DEL"):
            name = f"{rounds[0]['pods']} concurrent {verb}s"
            benchmarks.append(benchmark(name, [r[f"{verb.lower()}_seconds"] for r in rounds], []))
    return pyperf.BenchmarkSuite(benchmarks)


def write(report: dict[str, Any], warmups: dict[str, list[Sample]], path: Path) -> None:
    """Raises ImportError without pyperf (the `bench` extra)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suite(report, warmups).dump(str(path), replace=True)
