"""The executable: cheap paths stay cheap, and CNI_COMMAND alone decides who answers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from krafty.types import error_violations

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


@pytest.mark.parametrize(
    ("stdin", "answered"),
    [
        ('{"cniVersion": "1.0.0"}', "1.0.0"),  # SPEC.md, VERSION Success: "the value of cniVersion specified on input"
        ('{ "cniVersion" : "0.4.0" }', "0.4.0"),
        ('{"cniVersion":"9.9.9"}', "9.9.9"),  # what it was asked, even a version it does not list
        ("", "1.1.0"),  # no input (0.3.1 and 0.4.0 gave VERSION none): the newest
        ('{"cniVersion": "1.0.0\\" }', "1.1.0"),  # not digits and dots: never echoed
        ('{"cniVersion": 1}', "1.1.0"),
        ("not json", "1.1.0"),
    ],
)
def test_version_answers_with_the_cni_version_it_was_asked(stdin, answered):
    answer, _ = run_entry("VERSION", stdin, "")
    assert json.loads(answer)["cniVersion"] == answered


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="mutmut's trampolines import inspect and typing into each mutated module"
)
def test_status_without_ipam_imports_nothing_it_does_not_need():
    """STATUS is polled: no pyroute2, and none of the modules that cost about as much as the
    interpreter's start (logging, dataclasses with inspect, typing, socket's enum conversions)."""
    conf = {"cniVersion": "1.1.0", "name": "n", "type": "krafty", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}
    watched = "pyroute2 asyncio logging dataclasses inspect typing socket traceback"
    answer, loaded = run_entry("STATUS", json.dumps({**conf, "podIP": "10.1.0.5"}), watched)
    assert answer == "" or json.loads(answer)["code"] == 50  # ready, or a kernel without VRF
    assert loaded == [], f"STATUS imported {loaded}"


KRAFTY = Path(sys.executable).with_name("krafty")  # the installed entry point, as a runtime runs it


def run_binary(argv: list[str], cni_command: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if cni_command is not None:
        env["CNI_COMMAND"] = cni_command
    return subprocess.run([str(KRAFTY), *argv], env=env, input="", capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("tool", ["inspect", "gc"])
def test_without_cni_command_a_subcommand_reaches_the_node_tools(tool):
    proc = run_binary([tool, "--help"], None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: krafty {tool}"), f"krafty {tool} --help printed {proc.stdout!r}"


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", ""])
def test_with_cni_command_set_a_subcommand_never_reaches_the_node_tools(command):
    """Any CNI_COMMAND, even an empty one, means a runtime is calling: the answer is CNI's."""
    proc = run_binary(["inspect", "--help"], command)
    assert "usage:" not in proc.stdout + proc.stderr, "a runtime's call reached the node tools"
    answer = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert error_violations(answer) == [], answer


def test_version_with_a_subcommand_still_answers_version():
    proc = run_binary(["gc", "--dry-run"], "VERSION")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {
        "cniVersion": "1.1.0",
        "supportedVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    }
