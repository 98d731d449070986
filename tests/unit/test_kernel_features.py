"""The cni_kernel marker's decisions, with the probes' answers stood in for (no root, no VM).

Where each marked test runs (here, in the VM, or nowhere and why) and what it says: the
features it lacks by name, never the modules behind them, and no "lacks" where nothing is
missing. The probes themselves are checked against the kernel in tests/netns/test_kernel_probes.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest.outcomes import Failed, Skipped

from krafty.testing import kernel, plugin, vm

# The built-in features and the modules the VM loads for each, as the docs promise them.
BUILT_IN = {
    "vrf": ("vrf",),
    "bridge": ("bridge",),
    "veth": ("veth",),
    "dummy": ("dummy",),
    "vxlan": ("vxlan",),
    "macvlan": ("veth", "macvlan"),
    "ipvlan": ("veth", "ipvlan"),
    "vlan": ("veth", "8021q"),
}
QEMU_MISSING = "missing qemu-system-x86_64: install qemu-system-x86"


class Item:
    """What the hook reads of a test: its id and its cni_kernel marks."""

    def __init__(self, nodeid: str, *features: str) -> None:
        self.nodeid = nodeid
        self.marks = [pytest.mark.cni_kernel(*features).mark] if features else []

    def get_closest_marker(self, name: str) -> Any:
        return next(self.iter_markers(name), None)

    def iter_markers(self, name: str) -> Any:
        return (mark for mark in self.marks if mark.name == name)


class Config:
    def __init__(self, cni_vm: str) -> None:
        self.options = {"cni_vm": cni_vm, "numprocesses": None}
        self.stash = pytest.Stash()
        self.invocation_params = SimpleNamespace(args=("-x",))
        self.option = SimpleNamespace(file_or_dir=[])

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A root host whose kernel has bridge and veth only, with or without a VM, outside the VM."""
    facts: dict[str, Any] = {"has": {"bridge", "veth"}, "vm_unavailable": None}
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(kernel, "has_feature", lambda name: name in facts["has"])
    monkeypatch.setattr(kernel, "vm_unavailable", lambda: facts["vm_unavailable"])
    monkeypatch.delenv(kernel.IN_VM, raising=False)
    return facts


def decide(cni_vm: str, *items: Item) -> tuple[list[str], dict[str, tuple[str, str]], list[str]]:
    """(the order the items run in, each unrunnable one's (skip or fail, why), the relayed ids)."""
    config = Config(cni_vm)
    listed = list(items)
    plugin.pytest_collection_modifyitems(config, listed)  # type: ignore[arg-type]
    return [i.nodeid for i in listed], config.stash[plugin.UNRUNNABLE], sorted(config.stash[plugin.RELAYED])


def test_the_built_in_features_and_their_modules():
    assert {name: feature.modules for name, feature in kernel.FEATURES.items()} == BUILT_IN


def test_no_probe_names_a_device_iproute2_reads_as_a_keyword():
    """`ip link add d ...` is `dynamic` to iproute2 6.1: the macvlan probe could never pass."""
    for feature in kernel.FEATURES.values():
        words = " ".join(feature.probe).replace("&&", " ").split()
        names = {words[i + 1] for i, word in enumerate(words[:-1]) if word in ("add", "link", "name")}
        assert not names & {"d", "dev", "dy", "dynamic"}, feature


def test_a_test_runs_here_when_nothing_is_missing(host):
    assert decide("auto", Item("t::here", "bridge", "veth")) == (["t::here"], {}, [])


def test_a_missing_feature_goes_to_the_vm_after_the_tests_that_run_here(host):
    order, unrunnable, relayed = decide("auto", Item("t::vm", "vlan"), Item("t::here", "bridge"), Item("t::plain"))
    assert (order, unrunnable, relayed) == (["t::here", "t::plain", "t::vm"], {}, ["t::vm"])


def test_never_names_the_missing_features_not_their_modules(host):
    _, unrunnable, relayed = decide("never", Item("t::a", "vlan", "bridge", "macvlan"))
    assert unrunnable == {"t::a": ("skip", "this kernel lacks vlan, macvlan (and --cni-vm=never)")} and relayed == []


def test_without_a_vm_the_reason_names_the_features_and_why(host):
    host["vm_unavailable"] = QEMU_MISSING
    _, unrunnable, _ = decide("auto", Item("t::a", "ipvlan"))
    assert unrunnable == {"t::a": ("skip", f"this kernel lacks ipvlan and no VM can run here: {QEMU_MISSING}")}


def test_always_with_nothing_missing_says_so_and_not_lacks(host):
    host["vm_unavailable"] = QEMU_MISSING
    _, unrunnable, _ = decide("always", Item("t::a", "bridge"))
    assert unrunnable == {"t::a": ("skip", f"--cni-vm=always and no VM can run here: {QEMU_MISSING}")}
    host["vm_unavailable"] = None
    assert decide("always", Item("t::a", "bridge"))[2] == ["t::a"]


def test_without_root_nothing_is_probed_and_the_test_cannot_run(host, monkeypatch):
    """Even a marked test that asks for no root fixture: whether the kernel has its features is unknown."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    host["has"] = set()  # were anything probed, vrf would be missing
    for cni_vm in ("auto", "always", "never"):
        assert decide(cni_vm, Item("t::a", "vrf"))[1:] == (
            {"t::a": ("skip", "needs root (to probe its cni_kernel features)")},
            [],
        )


def test_inside_the_vm_a_missing_feature_fails_with_what_modprobe_said(host, monkeypatch):
    """The VM was booted to bring the feature: lacking it there is the VM's failure, never a skip,
    and not a reason to start another VM."""
    monkeypatch.setenv(kernel.IN_VM, "1")
    monkeypatch.delenv(vm.MODPROBE_FAILED, raising=False)
    assert decide("auto", Item("t::a", "dummy"))[1:] == ({"t::a": ("fail", "this kernel lacks dummy (in the VM)")}, [])
    said = "modprobe: FATAL: Module dummy not found in directory /lib/modules/6.1.0-57-amd64"
    monkeypatch.setenv(vm.MODPROBE_FAILED, said)
    assert decide("auto", Item("t::a", "dummy"), Item("t::b", "bridge"))[1:] == (
        {"t::a": ("fail", f"this kernel lacks dummy (in the VM: {said})")},
        [],
    )


def test_an_unknown_feature_is_a_usage_error_even_without_root(host, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.UsageError, match=r"unknown cni_kernel feature\(s\) \['nope'\]"):
        decide("auto", Item("t::a", "nope"))


def test_a_registered_feature_is_probed_with_its_probe_and_brings_its_modules(host, monkeypatch):
    monkeypatch.setattr(kernel, "FEATURES", dict(kernel.FEATURES))
    kernel.register_feature("ifb", ["ip", "link", "add", "probe", "type", "ifb"], ["ifb"])  # lists are taken too
    assert kernel.FEATURES["ifb"] == kernel.Feature("ifb", ("ip", "link", "add", "probe", "type", "ifb"), ("ifb",))
    assert kernel.relay_modules([Item("t::a", "ifb", "vlan")]) == ("ifb", "veth", "8021q")


def test_every_cni_kernel_mark_of_a_test_counts(host):
    """A class's mark and its method's: the test needs both marks' features."""
    item = Item("t::a", "vlan")
    item.marks.append(pytest.mark.cni_kernel("dummy", "vlan").mark)
    assert kernel.features_of(item) == ("vlan", "dummy")
    assert decide("never", item)[1] == {"t::a": ("skip", "this kernel lacks vlan, dummy (and --cni-vm=never)")}


def test_a_vm_can_run_where_every_tool_it_needs_is_there_and_each_missing_one_is_named(monkeypatch, tmp_path):
    for tool in ("qemu-system-x86_64", "depmod", "modprobe", "busybox"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(vm, "BUSYBOX", str(tmp_path / "busybox"))
    assert kernel.vm_unavailable() is None
    (tmp_path / "busybox").unlink()
    (tmp_path / "modprobe").unlink()
    assert kernel.vm_unavailable() == f"missing {tmp_path}/busybox, modprobe: install busybox-static kmod"
    for tool in ("qemu-system-x86_64", "depmod"):
        (tmp_path / tool).unlink()
    assert kernel.vm_unavailable() == (
        f"missing qemu-system-x86_64, {tmp_path}/busybox, depmod, modprobe: install qemu-system-x86 busybox-static kmod"
    )


def test_the_vm_relay_says_which_features_it_is_for(host, tmp_path):
    items = [Item("t::a", "vlan", "bridge"), Item("t::b", "dummy", "vlan")]
    relay = kernel.VmRelay(Config("auto"), items, kernel.relay_modules(items))  # type: ignore[arg-type]
    try:
        assert relay.modules == ("veth", "8021q", "bridge", "dummy")
        assert relay.why() == "this kernel lacks vlan, dummy"
        relay.items = [Item("t::c", "bridge")]
        assert relay.why() == "--cni-vm=always"
    finally:
        relay.stop()


def outcome_of(reason: str) -> Skipped | Failed:
    """What skip_or_fail raised: caught here, so that a skip cannot pass for this test's own skip."""
    try:
        plugin.skip_or_fail(reason)
    except (Skipped, Failed) as raised:
        return raised
    raise AssertionError("skip_or_fail returned")


def test_skip_or_fail_skips_at_the_test_and_fails_under_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    skipped = outcome_of("no frobnicator")
    assert type(skipped) is Skipped and skipped.msg == "no frobnicator" and skipped._use_item_location
    monkeypatch.setenv("CI", "true")
    failed = outcome_of("no frobnicator")
    assert type(failed) is Failed and failed.msg == "no frobnicator (CI=true: this test must run)"
    assert failed.pytrace is False, "the reason alone, not a traceback into the harness"
    monkeypatch.setenv("CI", "1")  # only `true` is the switch, as CI services set it
    assert type(outcome_of("no frobnicator")) is Skipped


def test_the_netns_fixtures_need_root(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    try:
        plugin.require_root()
    except Skipped as skipped:
        assert skipped.msg == "needs root (network namespaces)"
    else:
        raise AssertionError("require_root returned without root")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    try:
        plugin.require_root()
    except Skipped as skipped:
        raise AssertionError(f"skipped as root: {skipped.msg}") from None


def test_a_conftest_registers_features_at_import_or_in_pytest_configure(tmp_path: Path):
    """Where the docs say register_feature belongs; a name registered nowhere is a usage error."""
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from krafty.testing.kernel import register_feature

            register_feature("at-import", ("true",), ())

            def pytest_configure(config):
                register_feature("at-configure", ("true",), ())
            """
        )
    )
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.cni_kernel("at-import", "at-configure")
            def test_it():
                pass
            """
        )
    )
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "test_it.py"]
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120, "check": False}
    collected = subprocess.run(argv, **run)
    assert collected.returncode == 0 and "test_it.py::test_it" in collected.stdout, collected.stdout + collected.stderr
    (tmp_path / "test_it.py").write_text(
        '\nimport pytest\n\n@pytest.mark.cni_kernel("registered-nowhere")\ndef test_it():\n    pass\n'
    )
    refused = subprocess.run(argv, **run)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout + refused.stderr
    assert "unknown cni_kernel feature(s) ['registered-nowhere']" in refused.stderr + refused.stdout


def test_a_debugger_option_is_refused_at_collection_when_tests_go_to_the_vm_and_only_then(host):
    config = Config("auto")
    config.invocation_params = SimpleNamespace(args=("--pdb",))
    with pytest.raises(pytest.UsageError, match=r"^--pdb cannot reach cni_kernel tests run in a VM"):
        plugin.pytest_collection_modifyitems(config, [Item("t::vm", "vlan")])  # type: ignore[arg-type]
    plugin.pytest_collection_modifyitems(config, [Item("t::here", "bridge")])  # type: ignore[arg-type]
