"""What the plugin adds to a pytest session: its options and ini keys with the defaults the
manual gives, its markers (accepted under --strict-markers), the report file the VM relay reads,
the plugin search path, and the summary of checks turned off. Each runs pytest in this process.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from krafty.testing import plugin

pytest_plugins = ("pytester",)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in this process, without hypothesis's plugin (seconds per session, unused here)."""
    return pytester.runpytest_inprocess("-p", "no:hypothesispytest", *args)


def test_the_options_defaults_are_the_manuals(pytester):
    config = pytester.parseconfig()
    assert config.getoption("cni_path") is None
    assert config.getoption("cni_vm") == "auto"
    assert config.getoption("cni_vm_workers") == (os.cpu_count() or 1)
    assert config.getoption("cni_timeout") == 300
    for name in ("cni_report_to", "cni_kind_plugin", "cni_kind_nad", "cni_kind_image"):
        assert config.getoption(name) is None, name
    assert config.getini("cni_clean") is False and config.getini("cni_private_mounts") is False


def test_the_options_take_their_values(pytester):
    config = pytester.parseconfig(
        "--cni-path=/a:/b",
        "--cni-vm-workers=3",
        "--cni-timeout=2.5",
        "--cni-report-to=/r.jsonl",
        "--cni-kind-plugin=/p",
        "--cni-kind-nad=nad.yaml",
        "--cni-kind-image=one:1",
        "--cni-kind-image=two:2",
    )
    assert config.getoption("cni_path") == "/a:/b"
    assert config.getoption("cni_vm_workers") == 3
    assert config.getoption("cni_timeout") == 2.5
    assert config.getoption("cni_report_to") == "/r.jsonl"
    assert (config.getoption("cni_kind_plugin"), config.getoption("cni_kind_nad")) == ("/p", "nad.yaml")
    assert config.getoption("cni_kind_image") == ["one:1", "two:2"]


@pytest.mark.parametrize("value", ["auto", "always", "never"])
def test_cni_vm_takes_auto_always_or_never(pytester, value):
    assert pytester.parseconfig(f"--cni-vm={value}").getoption("cni_vm") == value


def test_cni_vm_refuses_anything_else(pytester):
    with pytest.raises(pytest.UsageError, match="invalid choice: 'sometimes'"):
        pytester.parseconfig("--cni-vm=sometimes")


def test_where_the_cpu_count_is_unknown_the_vm_runs_one_worker(pytester, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert pytester.parseconfig().getoption("cni_vm_workers") == 1


def test_the_ini_keys_turn_the_clean_check_and_private_mounts_on_for_every_test(pytester):
    pytester.makeini("[pytest]\ncni_clean = true\ncni_private_mounts = true\n")
    config = pytester.parseconfig()
    assert config.getini("cni_clean") is True and config.getini("cni_private_mounts") is True


def test_help_lists_the_options_and_hides_the_relays_own(pytester):
    shown = run(pytester, "--help").stdout.str()
    for name in ("--cni-path", "--cni-vm", "--cni-vm-workers", "--cni-timeout", "--cni-kind-plugin"):
        assert name in shown
    assert "--cni-report-to" not in shown, "set by the VM relay only"


def stub_plugin(directory: Path, name: str, *supported: str) -> Path:
    """A plugin whose VERSION answer lists `supported`."""
    directory.mkdir(parents=True, exist_ok=True)
    answer = json.dumps({"cniVersion": "1.0.0", "supportedVersions": list(supported)})
    path = directory / name
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{answer}\nEOF\n")
    path.chmod(0o755)
    return path


MARKED = """
    import pytest

    @pytest.mark.cni_versions("p")
    def test_marked(cni_version):
        pass
"""


def test_the_markers_are_registered_with_their_signatures(pytester):
    """What `pytest --markers` lists, and what --strict-markers accepts."""
    shown = run(pytester, "--markers").stdout.lines
    for signature in (
        "@pytest.mark.cni_kernel(*features):",
        "@pytest.mark.cni_versions(*plugins, min=None, max=None):",
        "@pytest.mark.cni_clean:",
        "@pytest.mark.cni_private_mounts(*paths):",
    ):
        assert any(line.startswith(signature) for line in shown), signature


def test_cni_versions_finds_the_plugin_on_cni_path(pytester, monkeypatch):
    monkeypatch.delenv("CNI_PATH", raising=False)
    stub_plugin(pytester.path / "bin", "p", "0.4.0", "1.0.0")
    pytester.makepyfile(test_it=textwrap.dedent(MARKED))
    result = run(pytester, "--collect-only", "-q", f"--cni-path={pytester.path}/bin")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["test_it.py::test_marked[[]0.4.0[]]", "test_it.py::test_marked[[]1.0.0[]]"])


def test_cni_versions_finds_the_plugin_on_cni_path_from_the_environment(pytester, monkeypatch):
    stub_plugin(pytester.path / "bin", "p", "0.3.1")
    monkeypatch.setenv("CNI_PATH", f"{pytester.path}/nowhere::{pytester.path}/bin")
    pytester.makepyfile(test_it=textwrap.dedent(MARKED))
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_it.py::test_marked[[]0.3.1[]]"])


def test_the_report_file_gets_every_report_of_the_session_as_json_lines(pytester):
    """What the pytest inside the VM does with `--cni-report-to`: the relay outside reads it."""
    pytester.makepyfile(test_it="def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n")
    path = pytester.path / "reports.jsonl"
    run(pytester, f"--cni-report-to={path}")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["nodeid"], line["when"], line["outcome"]) for line in lines] == [
        ("test_it.py::test_ok", "setup", "passed"),
        ("test_it.py::test_ok", "call", "passed"),
        ("test_it.py::test_ok", "teardown", "passed"),
        ("test_it.py::test_bad", "setup", "passed"),
        ("test_it.py::test_bad", "call", "failed"),
        ("test_it.py::test_bad", "teardown", "passed"),
    ]


def test_an_xdist_worker_writes_no_report_file_its_controller_does(pytester, tmp_path):
    config = pytester.parseconfig(f"--cni-report-to={tmp_path / 'reports.jsonl'}")
    config.workerinput = {}  # what xdist sets on a worker's config
    plugin.pytest_configure(config)
    assert not (tmp_path / "reports.jsonl").exists()


CHECKS_OFF = """
    import warnings

    import pytest

    class Runtime:
        checks_off = [("kernel.mac", "the plugin reports the MAC before X rewrites it")]

    @pytest.fixture
    def cni_runtime():
        return Runtime()

    def test_rule_off(cni_runtime):
        pass

    def test_all_rules_on():
        warnings.warn(UserWarning("a warning is in the summary's statistics too"))
"""


def test_a_rule_turned_off_is_in_the_report_and_the_summary_names_test_rule_and_reason(pytester):
    pytester.makepyfile(test_it=textwrap.dedent(CHECKS_OFF))
    result = run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=2, warnings=1)
    teardown = [r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "teardown"]
    assert [r.user_properties for r in teardown] == [
        [("cni_check_off", "kernel.mac: the plugin reports the MAC before X rewrites it")],
        [],
    ]
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if re.fullmatch("=+ CNI checks turned off =+", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    assert [line for line in lines[start + 1 : end] if line] == [
        "test_it.py::test_rule_off kernel.mac: the plugin reports the MAC before X rewrites it"
    ], "one line per rule turned off, once"


def test_no_rule_turned_off_no_section(pytester):
    pytester.makepyfile(test_it="def test_ok():\n    pass\n")
    result = run(pytester)
    assert "CNI checks turned off" not in result.stdout.str()


class Request:
    """What `_private_mounts` reads of a test: its marker, the ini key, the fixtures it asked for."""

    def __init__(self, marker: bool = False, ini: bool = False, fixture: bool = False) -> None:
        self.marker, self.ini = marker, ini
        self.fixturenames = ["tmp_path", *(["cni_private_mounts"] if fixture else [])]
        self.node, self.config = self, self

    def get_closest_marker(self, name: str) -> object:
        return pytest.mark.cni_private_mounts().mark if self.marker and name == "cni_private_mounts" else None

    def getini(self, name: str) -> bool:
        return self.ini and name == "cni_private_mounts"

    def getfixturevalue(self, name: str) -> str:
        return f"the {name} fixture"


@pytest.mark.parametrize("asked", [{"marker": True}, {"ini": True}, {"fixture": True}])
def test_private_mounts_where_the_marker_the_ini_key_or_the_fixture_asks(asked):
    assert plugin._private_mounts(Request(**asked)) == "the cni_private_mounts fixture"  # type: ignore[arg-type]


def test_no_private_mounts_where_nothing_asks():
    assert plugin._private_mounts(Request()) is None  # type: ignore[arg-type]


def test_a_cni_versions_test_whose_plugin_cannot_be_asked_fails_at_setup_with_why(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_it=textwrap.dedent(MARKED))
    result = run(pytester, f"--cni-path={pytester.path}/nowhere")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["_* ERROR at setup of test_marked[[]unavailable[]] _*", "cni_versions('p'): plugin 'p' not found in *"],
        consecutive=True,
    )


def test_a_cni_kernel_test_that_cannot_run_is_skipped_at_setup_with_why(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    pytester.makepyfile(
        test_it="import pytest\n\n@pytest.mark.cni_kernel('veth')\ndef test_kernel():\n    pass\n\n"
        "def test_plain():\n    pass\n"
    )
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] test_it.py:3: needs root (to probe its cni_kernel features)"])


def test_in_the_vm_a_cni_kernel_test_whose_feature_is_missing_fails_with_what_modprobe_said(pytester, monkeypatch):
    """An error at setup, not a skip, with or without CI=true: the VM was booted to bring the feature."""
    from krafty.testing import kernel, vm

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(kernel, "has_feature", lambda name: name != "dummy")
    monkeypatch.setenv(kernel.IN_VM, "1")
    monkeypatch.setenv(vm.MODPROBE_FAILED, "modprobe: FATAL: Module dummy not found")
    pytester.makepyfile(
        test_it="import pytest\n\n@pytest.mark.cni_kernel('dummy')\ndef test_kernel():\n    pass\n\n"
        "@pytest.mark.cni_kernel('veth')\ndef test_there():\n    pass\n"
    )
    result = run(pytester, "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["this kernel lacks dummy (in the VM: modprobe: FATAL: Module dummy not found)"])
