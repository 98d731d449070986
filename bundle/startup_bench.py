"""Start-up cost of the bundle against the venv entry point, per CNI call.

A runtime starts the plugin once per call (and some call VERSION on every command), so
start-up is most of what a cheap call costs. Two paths: VERSION, answered before any
config code is imported, and ADD with an invalid config, which imports the config code
but not pyroute2 and answers with an error object. Both forms get the same environment:
only the CNI variables, as a runtime passes them.

    python bundle/startup_bench.py [--bundle bundle-output/krafty] [--venv-krafty .venv/bin/krafty] [-n 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "VERSION": ({"CNI_COMMAND": "VERSION"}, b"{}"),
    "ADD, invalid config": (
        {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "bench", "CNI_IFNAME": "net1", "CNI_NETNS": "/nonexistent"},
        b'{"cniVersion": "1.0.0", "name": "bench", "type": "krafty"}',
    ),
}
EXPECTED = {"VERSION": "supportedVersions", "ADD, invalid config": "code"}  # a key the answer must have


def once(executable: Path, env: dict[str, str], stdin: bytes) -> float:
    """Wall time of one call in milliseconds."""
    start = time.perf_counter()
    subprocess.run([executable], input=stdin, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - start) * 1000


def check(executable: Path, path: str) -> None:
    """Time only calls that answer: a broken entry point fails fast and would look quick."""
    env, stdin = PATHS[path]
    proc = subprocess.run([executable], input=stdin, env=env, capture_output=True, check=False)
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        answer = {}
    if EXPECTED[path] not in answer:
        raise SystemExit(f"{executable} ({path}) answered {proc.stdout!r}: {proc.stderr.decode(errors='replace')}")


def measure(forms: dict[str, Path], runs: int) -> dict[tuple[str, str], list[float]]:
    """Interleave the forms so that both see the same machine noise."""
    times: dict[tuple[str, str], list[float]] = {}
    for path, (env, stdin) in PATHS.items():
        for executable in forms.values():
            for _ in range(3):  # warm the page cache
                once(executable, env, stdin)
        for _ in range(runs):
            for form, executable in forms.items():
                times.setdefault((form, path), []).append(once(executable, env, stdin))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "bundle-output" / "krafty")
    parser.add_argument("--venv-krafty", type=Path, default=Path(sys.executable).with_name("krafty"))
    parser.add_argument("-n", "--runs", type=int, default=100)
    args = parser.parse_args()
    forms = {"bundle": args.bundle, "venv": args.venv_krafty}
    for executable in forms.values():
        for path in PATHS:
            check(executable, path)
    times = measure(forms, args.runs)
    print(f"{args.runs} runs each; wall time per call in ms")
    print(f"{'path':<22}{'form':<8}{'median':>8}{'p95':>8}")
    for path in PATHS:
        medians = {}
        for form in forms:
            samples = times[(form, path)]
            medians[form] = statistics.median(samples)
            p95 = statistics.quantiles(samples, n=20)[18]
            print(f"{path:<22}{form:<8}{medians[form]:8.1f}{p95:8.1f}")
        print(f"{'':<22}{'ratio':<8}{medians['bundle'] / medians['venv']:7.2f}x (bundle / venv median)")


if __name__ == "__main__":
    main()
