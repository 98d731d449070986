"""The executable's cheap paths stay cheap: nothing heavy is imported before it is needed."""

import json
import subprocess
import sys

PROBE = r"""
import io, os, sys
before = set(sys.modules)
os.environ["CNI_COMMAND"] = sys.argv[1]
sys.stdin = io.TextIOWrapper(io.BytesIO(sys.argv[2].encode()))
from krafty.entry import main
try:
    main()
except SystemExit:
    pass
new = set(sys.modules) - before
sys.stderr.write("\nLOADED " + " ".join(sorted(m for m in new if m.split(".")[0] in sys.argv[3].split())))
"""


def run_entry(command: str, stdin: str, watched: str) -> tuple[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, command, stdin, watched], capture_output=True, text=True, check=True
    )
    return proc.stdout, proc.stderr.rpartition("\nLOADED ")[2].split()


def test_version_answers_without_importing_anything_heavy():
    answer, loaded = run_entry("VERSION", "", "pyroute2 asyncio logging json ipaddress dataclasses krafty")
    assert json.loads(answer) == {"cniVersion": "1.1.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]}
    assert loaded == ["krafty", "krafty.entry", "krafty.versions"], f"VERSION imported {loaded}"


def test_status_without_ipam_never_imports_pyroute2():
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "krafty", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}
    answer, loaded = run_entry("STATUS", json.dumps({**conf, "podIP": "10.1.0.5"}), "pyroute2 asyncio")
    assert answer == "" or json.loads(answer)["code"] == 50  # ready, or a kernel without VRF
    assert loaded == [], f"STATUS imported {loaded}"
