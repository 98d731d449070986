"""Print the mutation score of `mutmut run` and every survivor not explained as equivalent.

Reads `mutmut results --all true` and tests/unit/mutation-survivors.txt (one line per
equivalent mutant: its name, then the reason). Exits 1 when a survivor is unexplained.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("mutation-survivors.txt")


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    listing = subprocess.run([str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True)
    status = dict(line.strip().rsplit(": ", 1) for line in listing.stdout.splitlines() if ": " in line)
    explained = {
        line.split()[0] for line in EQUIVALENT.read_text().splitlines() if line.strip() and not line.startswith("#")
    }
    counts = Counter(status.values())
    killed = counts["killed"] + counts["timeout"]
    unexplained = sorted(
        name for name, state in status.items() if state not in ("killed", "timeout") and name not in explained
    )
    print(", ".join(f"{state} {n}" for state, n in sorted(counts.items())))
    print(f"mutation score: {killed}/{len(status)} killed = {100 * killed / max(len(status), 1):.1f}%")
    print(f"equivalent (listed in {EQUIVALENT.name}): {len(explained & set(status))}")
    for name in unexplained:
        print(f"unexplained: {name} ({status[name]})")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
