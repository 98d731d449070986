"""The e2e layer without its tools: skipped with one reason, or failed with it under CI=true.

CI=true is the harness's one skip-or-fail switch (root, kernel features, the VM, the kind lab):
CI services set it, so that a job in which every test skipped (no Docker engine, kind missing
from PATH, ...) is red instead of green. No second switch (KRAFTY_E2E=required) is read.
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
    base = {key: value for key, value in os.environ.items() if key != "CI"}
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
    # At the tests, not at the harness's file that decided to skip them.
    assert re.search(rf"^SKIPPED \[\d+\] tests/e2e/test_validate.py:\d+: {re.escape(REASON)}$", proc.stdout, re.M), (
        proc.stdout
    )


def test_e2e_layer_fails_with_that_reason_under_ci(tmp_path: Path):
    proc = run_e2e_layer(tmp_path, CI="true")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped" not in outcome(proc) and re.search(r"\b\d+ errors?\b", outcome(proc)), proc.stdout
    assert re.search(rf"^{re.escape(REASON)} \(CI=true: this test must run\)$", proc.stdout, re.M), proc.stdout


def test_the_old_second_switch_no_longer_fails_anything(tmp_path: Path):
    """KRAFTY_E2E=required was the kind lab's own switch; one switch now decides for every layer."""
    proc = run_e2e_layer(tmp_path, KRAFTY_E2E="required")
    assert proc.returncode == 0 and re.search(r"\b\d+ skipped\b", outcome(proc)), proc.stdout + proc.stderr


def test_the_harness_kind_lab_fixture_has_the_same_gate_outside_this_repository(tmp_path: Path):
    """`cni_kind_lab` in another project: skipped with the reason (at the test), failed with it under CI=true."""
    (tmp_path / "test_lab.py").write_text("def test_needs_a_lab(cni_kind_lab):\n    pass\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    base = {key: value for key, value in os.environ.items() if key != "CI"}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}", "-rs"]
    argv.append("test_lab.py")
    cases = [({}, 0, f"SKIPPED [1] test_lab.py:1: {REASON}"), ({"CI": "true"}, 1, f"{REASON} (CI=true: ")]
    for extra, status, expected in cases:
        env = {**base, "PATH": str(empty), **extra}
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == status, proc.stdout + proc.stderr
        assert expected in proc.stdout and REASON in proc.stdout, proc.stdout


def test_the_generic_lab_has_no_plugin_nad_or_krafty_name_of_its_own():
    """krafty's bundle, NAD and cluster name are krafty's suite's (tests/e2e/conftest.py), not the harness's."""
    from krafty.testing.kind.settings import Settings

    settings = Settings.from_env({}, name=None)
    assert (settings.name, settings.plugin, settings.nad) == ("cni-lab", None, None)
    assert settings.unset() == (
        "no plugin given (--cni-kind-plugin, CNI_KIND_PLUGIN, or override the cni_kind_settings fixture); "
        "no NetworkAttachmentDefinition given (--cni-kind-nad, CNI_KIND_NAD, or override the cni_kind_settings fixture)"
    )
    given = Settings.from_env({"CNI_KIND_PLUGIN": "/p", "CNI_KIND_NAD": "/n.yaml", "BUNDLE_DIR": "/b"})
    assert (given.plugin, given.nad, given.unset()) == (Path("/p"), Path("/n.yaml"), "")


def test_the_harness_kind_lab_fixture_without_a_plugin_or_nad_errors_before_creating_anything(tmp_path: Path):
    """The tools there (stand-ins), the suite silent about what to test: an error that says what to give."""
    from tests.unit import standins

    standins.install(tmp_path / "bin", tmp_path / "state")
    (tmp_path / "test_lab.py").write_text("def test_needs_a_lab(cni_kind_lab):\n    pass\n")
    base = {key: value for key, value in os.environ.items() if not key.startswith(("CI", "CNI_KIND_", "BUNDLE"))}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}", "test_lab.py"]
    for extra, unset in [({}, ("plugin", "NetworkAttachmentDefinition")), ({"CNI_KIND_PLUGIN": "p"}, ("Network",))]:
        env = {**base, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", **extra}
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 1 and "1 error" in outcome(proc), proc.stdout + proc.stderr
        lines = [line for line in proc.stdout.splitlines() if line.startswith("cni_kind_lab: ")]
        assert len(lines) == 1 and [f"no {what}" in lines[0] for what in unset] == [True] * len(unset), proc.stdout
        assert ("no plugin given" in lines[0]) == ("plugin" in unset), proc.stdout
    assert [call["argv"][:2] for call in standins.calls(tmp_path / "state")] == [["docker", "info"]] * 2


def test_the_generic_lab_command_without_a_plugin_or_nad_says_what_to_give_in_one_line(tmp_path: Path):
    from tests.unit import standins

    standins.install(tmp_path / "bin", tmp_path / "state")
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "krafty.testing.kind", "up"]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        "lab cni-lab: no plugin given (--cni-kind-plugin, CNI_KIND_PLUGIN, or override the cni_kind_settings "
        "fixture); no NetworkAttachmentDefinition given (--cni-kind-nad, CNI_KIND_NAD, or override the "
        "cni_kind_settings fixture)"
    ], proc.stdout + proc.stderr
    assert [call["argv"][:2] for call in standins.calls(tmp_path / "state")] == [["docker", "info"]]
