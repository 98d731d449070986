"""The e2e layer without its tools: skipped with one reason, or failed with it under KRAFTY_E2E=required.

CI's e2e job sets KRAFTY_E2E=required so that a job in which every test skipped (no Docker
engine, kind missing from PATH, ...) is red instead of green.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASON = "the kind lab needs Docker: no `docker` on PATH"


def run_e2e_layer(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """pytest -m e2e on one e2e module, with a PATH that holds no docker, kind, kubectl or helm."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    base = {key: value for key, value in os.environ.items() if key not in ("KRAFTY_E2E", "CI")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'inner'}",
            "-m",
            "e2e",
            "tests/e2e/test_validate.py",
        ],
        cwd=ROOT,
        env={**base, "PATH": str(empty), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def outcome(proc: subprocess.CompletedProcess) -> str:
    """pytest's closing summary line, e.g. '5 skipped, 7 deselected'."""
    return proc.stdout.strip().splitlines()[-1]


def test_e2e_layer_skips_with_one_reason_when_the_tools_are_missing(tmp_path: Path):
    proc = run_e2e_layer(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b\d+ skipped\b", outcome(proc)) and "error" not in outcome(proc), proc.stdout
    assert re.search(rf"^SKIPPED \[\d+\] .*: {re.escape(REASON)}$", proc.stdout, re.M), proc.stdout


def test_e2e_layer_fails_with_that_reason_when_required(tmp_path: Path):
    proc = run_e2e_layer(tmp_path, KRAFTY_E2E="required")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped" not in outcome(proc) and re.search(r"\b\d+ errors?\b", outcome(proc)), proc.stdout
    assert re.search(rf"^KRAFTY_E2E=required: {re.escape(REASON)}$", proc.stdout, re.M), proc.stdout


def test_the_harness_kind_lab_fixture_has_the_same_gate_outside_this_repository(tmp_path: Path):
    """`cni_kind_lab` in another project: skipped with the reason, failed with it when required."""
    (tmp_path / "test_lab.py").write_text("def test_needs_a_lab(cni_kind_lab):\n    pass\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    base = {key: value for key, value in os.environ.items() if key not in ("KRAFTY_E2E", "CI")}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}", "-rs"]
    argv.append("test_lab.py")
    cases = [({}, 0, "SKIPPED [1] "), ({"KRAFTY_E2E": "required"}, 1, "KRAFTY_E2E=required: ")]
    for extra, status, expected in cases:
        env = {**base, "PATH": str(empty), **extra}
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == status, proc.stdout + proc.stderr
        assert expected in proc.stdout and REASON in proc.stdout, proc.stdout
