"""Benchmark krafty as a runtime drives it, side by side with the reference Go `bridge` plugin.

Why this shape: a CNI plugin is one process per call, so what a runtime pays is the
whole process (interpreter start, imports, netlink, IPAM exec), not a function. Every call
here is the installed executable run through nsenter into a throwaway node namespace with
the CNI environment and the config on stdin, and every figure comes from the same run on the
same machine: the A/B per verb against Debian's Go `bridge` + `host-local`, the floors, and
the scaling steps. The parts, one concern each:

- children.py: running and timing a call (wall and CPU from os.wait4, peak RSS from GNU time)
- node.py: the namespaces, the two plugins and their configs
- floors.py: what a call cannot go below (interpreter start, import pyroute2, veth teardown)
- schedule.py: the A/B loop (alternating, floors in the same loop), scaling and throughput
- stats.py: the figures kept per series (median, nearest-rank p95, CPU, the values)
- report.py: the targets, the printed table, the time each profile would take
- plot.py: bench.png
- machine.py: what the run is on (VM or not, VRF, Go plugins, other VMs)
- suite.py: the samples in pyperf's format, bench.pyperf.json next to bench.json

Results: the table on stdout, bench/results/bench.json (read by other tools and the docs),
bench.png, and bench.pyperf.json for pyperf's tools (`python -m pyperf stats FILE`, and to
compare two runs `python -m pyperf compare_to --table old.pyperf.json new.pyperf.json`).

pyperf (CPython's benchmark tool) provides the result format and the comparison; its runner
(Runner.bench_command/bench_time_func: worker processes, warm-up and loop calibration) does
not drive the calls, for three reasons:

- Interleaving. The runner finishes one benchmark (all its worker processes) before the next,
  so krafty's ADD and Go's ADD would be measured minutes apart; here every iteration runs both,
  first one then the other, so drift on a shared VM (other sessions, TCG's translation cache)
  hits both sides of a ratio equally, and each scaling level is paired with an empty node
  the same way.
- Per-call set-up. ADD needs a fresh container ID and pod netns, CHECK and DEL an ADD
  before them: bench_command repeats one fixed command line, so only bench_time_func could do
  it, from a worker process of its own per benchmark.
- Cost. pyperf 2.11's defaults take 20 worker processes x (1 warm-up + 3 values) plus a
  calibration run per benchmark, ~81 calls (--fast: 10 x 3 + 1, ~31), each worker a fresh
  interpreter; the VM profile here takes 12 (2 warm-up + 10). And here one ADD, CHECK, DEL
  sequence gives three values, where three separate benchmarks need an untimed call around
  each value (DEL after ADD; ADD before CHECK, DEL after it; ADD before DEL): 7 calls per 3
  values. Measured in the VM (2026-12-03, --quick, 2 busy cores): krafty's ADD, CHECK and
  DEL took 5.2, 5.6 and 5.0 s (median), so pyperf's defaults would spend ~49 min (--fast
  ~19 min) on those three alone, worker start-up not counted, where the VM profile's whole
  A/B loop (both plugins, every verb, the floors; 13 iterations at the 33 s each that run
  took) is ~7 min.

pyperf's statistics are not used either: its median is the same as statistics.median, and
its percentile interpolates, where the p95 in bench.json and the docs is nearest-rank (an
observed value), so they would change figures without deleting code.

Needs root, `ip`, `nsenter`, the Go plugins and a kernel with VRF; where the kernel lacks
VRF run it in the VM:

    python3 -m krafty.testing.vm --rw $PWD --cwd $PWD -- /path/to/venv/bin/python bench/run.py --label vm

Under QEMU TCG absolute times are inflated 10-35x, unevenly (process start most, kernel
waits least): compare the ratios, which are measured in the same run. MISS next to a
target is a report, never a failure: the exit status is 0 whenever the benchmark ran to
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from children import GNU_TIME, BenchError
from machine import CNI_DIRS, detect_vm, find_cni_path, has_vrf, machine, other_vms
from node import KRAFTY, PYTHON, SCALE_CAPACITY
from plot import plot
from report import estimate, render, targets
from schedule import CONCURRENCY, PROFILES, Bench, Settings
from suite import write as write_pyperf

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


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
        epilog="Defaults come from a profile: native, vm (detected or --label vm) or --quick; options override."
        " Two runs compare with pyperf: python -m pyperf compare_to old.pyperf.json new.pyperf.json",
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
    parser.add_argument(
        "--pyperf", type=Path, help="the samples for pyperf stats/compare_to, default bench/results/bench.pyperf.json"
    )
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
    pyperf_json = args.pyperf or args.json.with_suffix(".pyperf.json")
    try:
        write_pyperf(report, bench.warmups, pyperf_json)
        print(f"wrote {pyperf_json}")
    except ImportError:
        print("pyperf is missing (pip install 'krafty[bench]'): no pyperf file", file=sys.stderr)
    try:
        plot(report, args.png)
        print(f"wrote {args.png}")
    except ImportError:
        print("matplotlib is missing (pip install 'krafty[bench]'): no plot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
