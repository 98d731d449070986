"""Print the mutation score of `mutmut run`, per module, and every survivor not explained.

Reads `mutmut results --all true` and tests/unit/mutation-survivors.txt (one line per mutant no
test can kill: its name, then the reason). A mutant reached by no test counts as not killed.
Exits 1 when a survivor is unexplained or the score is below 90%: a mutant nobody explains is a
promise nobody holds.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("mutation-survivors.txt")
MINIMUM_SCORE = 90.0
KILLED = ("killed", "timeout")


def module_of(mutant: str) -> str:
    """`krafty.testing.runtime.xǁRuntimeǁadd__mutmut_3` -> `krafty.testing.runtime`."""
    return mutant.split(".x", 1)[0]


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True)
    status = dict(line.strip().rsplit(": ", 1) for line in listing.stdout.splitlines() if ": " in line)
    explained = {
        line.split()[0] for line in EQUIVALENT.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, state in status.items():
        by_module[module_of(name)][state] += 1
    print(f"{'module':28} {'mutants':>8} {'killed':>7} {'score':>6}  other")
    for module, counts in sorted(by_module.items()):
        killed = sum(counts[state] for state in KILLED)
        total = sum(counts.values())
        other = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()) if state not in KILLED)
        print(f"{module:28} {total:8} {killed:7} {100 * killed / total:5.1f}%  {other}")
    counts = Counter(status.values())
    killed = sum(counts[state] for state in KILLED)
    score = 100 * killed / max(len(status), 1)
    unexplained = sorted(name for name, state in status.items() if state not in KILLED and name not in explained)
    print(f"mutation score: {killed}/{len(status)} killed = {score:.1f}% (at least {MINIMUM_SCORE:.0f}% wanted)")
    print(f"not killed, explained in {EQUIVALENT.name}: {len(explained & set(status))}")
    for name in unexplained:
        print(f"unexplained: {name} ({status[name]})")
    return 1 if unexplained or score < MINIMUM_SCORE else 0


if __name__ == "__main__":
    sys.exit(main())
