"""The pytest plugin (entry point `krafty`): fixtures for testing any CNI plugin.

Loading it is cheap and inert: no pyroute2 until a fixture reads a namespace, no autouse
fixture, options and markers under `--cni-` / `cni_`. `pytest -p no:krafty` turns it off.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from krafty.testing import kernel
from krafty.testing.clean import CleanChecker
from krafty.testing.kill import kill_at
from krafty.testing.netns import Netns
from krafty.testing.runtime import DEFAULT_CNI_PATH, Attachment, CniCallError, Runtime

RELAYED = pytest.StashKey[set]()
UNRUNNABLE = pytest.StashKey[dict]()
RELAY = pytest.StashKey["kernel.VmRelay | None"]()


def in_ci() -> bool:
    """The one switch: CI=true (set by GitHub Actions, GitLab CI and most others) means every test must run."""
    return os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """Where a test cannot run (no root, a kernel feature, the VM, the kind lab): skip it, except
    where CI=true, where it fails. The skip is reported at the test, not here."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run)", pytrace=False)
    raise pytest.skip.Exception(reason, _use_item_location=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cni", "CNI plugin testing (krafty.testing)")
    default_path = os.environ.get("CNI_PATH") or ":".join(DEFAULT_CNI_PATH)
    group.addoption(
        "--cni-path",
        default=None,
        help=f"directories searched for plugins after the test's own (default: $CNI_PATH, else {default_path})",
    )
    group.addoption(
        "--cni-vm",
        choices=("auto", "always", "never"),
        default="auto",
        help="run cni_kernel tests in a VM: when the kernel lacks a feature (auto), always, or never",
    )
    group.addoption("--cni-vm-workers", type=int, default=os.cpu_count() or 1, help="pytest -n inside the VM")
    group.addoption("--cni-timeout", type=float, default=300, help="seconds a plugin call may take (default 300)")
    group.addoption("--cni-report-to", default=None, help=argparse.SUPPRESS)  # set by the VM relay
    group.addoption("--cni-kind-plugin", default=None, help="cni_kind_lab: the plugin (executable or bundle dir)")
    group.addoption("--cni-kind-nad", default=None, help="cni_kind_lab: the NetworkAttachmentDefinition (YAML)")
    group.addoption(
        "--cni-kind-image", action="append", default=None, help="cni_kind_lab: a local image to load (repeatable)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cni_kernel(*features): the test needs these kernel features (built in: vrf, bridge, veth, dummy, vxlan, "
        "macvlan, ipvlan, vlan; more with krafty.testing.kernel.register_feature); where the kernel lacks one "
        "it runs in a VM",
    )
    report_to = config.getoption("cni_report_to")
    if report_to and not hasattr(config, "workerinput"):
        config.pluginmanager.register(kernel.ReportWriter(config, Path(report_to)), "cni-report-writer")
    config.stash[RELAY] = None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Decide where each cni_kernel test runs: here, in the VM, or nowhere (and why)."""
    relayed: list[pytest.Item] = []
    unrunnable: dict[str, str] = {}
    choice = config.getoption("cni_vm")
    inside = bool(os.environ.get(kernel.IN_VM))
    root = os.geteuid() == 0
    for item in items:
        if item.get_closest_marker("cni_kernel") is None:
            continue
        missing = kernel.missing_features(item)
        if not root:  # nothing can be probed, nor run in a VM
            unrunnable[item.nodeid] = "needs root (to probe its cni_kernel features)"
            continue
        if inside:  # the VM's own kernel: there is no further VM
            if missing:
                unrunnable[item.nodeid] = f"{kernel.lacks(missing)} (in the VM)"
            continue
        if not missing and choice != "always":
            continue  # runs here
        if choice == "never":
            unrunnable[item.nodeid] = f"{kernel.lacks(missing)} (and --cni-vm=never)"
        elif why := kernel.vm_unavailable():
            needs = kernel.lacks(missing) if missing else "--cni-vm=always"
            unrunnable[item.nodeid] = f"{needs} and no VM can run here: {why}"
        else:
            relayed.append(item)
    if relayed and config.getoption("numprocesses", default=None):
        raise pytest.UsageError("cni_kernel tests run in a VM here: run without -n (the VM runs them with -n)")
    # Tests that run here go first: they run while the VM boots and works.
    ids = {item.nodeid for item in relayed}
    items[:] = [item for item in items if item.nodeid not in ids] + relayed
    config.stash[RELAYED] = ids
    config.stash[UNRUNNABLE] = unrunnable


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    relayed = [item for item in session.items if item.nodeid in session.config.stash.get(RELAYED, set())]
    if relayed and not session.config.option.collectonly:
        relay = kernel.VmRelay(session.config, relayed, kernel.relay_modules(relayed))
        session.config.stash[RELAY] = relay
        session.config.pluginmanager.register(relay, "cni-vm-relay")
        relay.start()
    try:
        return (yield)
    finally:  # also on Ctrl-C and -x: a VM must not outlive the session
        relay = session.config.stash.get(RELAY, None)
        if relay is not None:
            relay.stop()


def pytest_runtest_setup(item: pytest.Item) -> None:
    why = item.config.stash.get(UNRUNNABLE, {}).get(item.nodeid)
    if why:
        skip_or_fail(why)


def require_root() -> None:
    if os.geteuid() != 0:
        skip_or_fail("needs root (network namespaces)")


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def cni_netns() -> Iterator[Callable[..., Netns]]:
    """Factory: `cni_netns(role="pod") -> Netns`, every namespace removed at teardown."""
    require_root()
    made: list[Netns] = []

    def make(role: str = "pod") -> Netns:
        ns = Netns(role)
        made.append(ns)
        ns.up("lo")
        ns.snapshot = ns.state()
        return ns

    yield make
    failures = []
    for ns in reversed(made):
        try:
            ns.remove()
        except Exception as err:  # noqa: BLE001 - every namespace gets its chance; all failures reported
            failures.append(str(err))
    if failures:
        pytest.fail("namespaces not removed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture
def cni_node(cni_netns: Callable[..., Netns]) -> Netns:
    """A throwaway "node": plugins run in it, so the host's own network is never touched."""
    return cni_netns("node")


def _search_path(config: pytest.Config) -> list[str]:
    configured = config.getoption("cni_path") or os.environ.get("CNI_PATH") or ":".join(DEFAULT_CNI_PATH)
    return [p for p in configured.split(":") if p]


@pytest.fixture
def cni_runtime(request: pytest.FixtureRequest, cni_node: Netns, tmp_path: Path) -> Iterator[Runtime]:
    """Runs plugins in `cni_node` as libcni does; attachments left at teardown are deleted."""
    plugin_dir = tmp_path / "cni-bin"
    plugin_dir.mkdir()
    runtime = Runtime(
        cni_node,
        _search_path(request.config),
        tmp_path / "cni-cache",
        plugin_dir=plugin_dir,
        timeout=request.config.getoption("cni_timeout"),
    )
    krafty = Path(sys.executable).with_name("krafty")
    if krafty.exists():
        runtime.install("krafty", krafty)
    yield runtime
    failures = []
    for attachment in reversed(list(runtime.attachments)):
        try:
            runtime.delete(attachment)
        except (CniCallError, AssertionError) as err:
            failures.append(f"{attachment.container_id[:12]} {attachment.ifname}: {err}")
    if failures:
        pytest.fail("DEL at teardown failed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture
def cni_assert_clean() -> CleanChecker:
    """`cni_assert_clean(node, *pods, ipam_dirs=())`: nothing left since the namespaces were made."""
    return CleanChecker()


@pytest.fixture
def cni_kill_at(cni_runtime: Runtime) -> Callable[..., Attachment]:
    """`cni_kill_at(config, netns, milestone, ...)`: SIGKILL an ADD at a milestone, proven."""
    return functools.partial(kill_at, cni_runtime)


@pytest.fixture(scope="session")
def cni_kind_settings(request: pytest.FixtureRequest) -> Any:
    """The lab `cni_kind_lab` builds: options, else the environment (CNI_KIND_PLUGIN, CNI_KIND_NAD,
    CNI_KIND_IMAGES, CLUSTER_NAME, ...). The plugin and the NAD have no default: give them, or
    override this fixture to build the settings in code."""
    from krafty.testing.kind.settings import Settings

    config = request.config
    name = config.getoption("cluster_name", default=None)
    plugin, nad = config.getoption("cni_kind_plugin"), config.getoption("cni_kind_nad")
    images = config.getoption("cni_kind_image")
    return Settings.from_env(
        name=None if name == "pytest-kind" else name,  # pytest-kind's own default name
        plugin=Path(plugin) if plugin else None,
        nad=Path(nad) if nad else None,
        images=tuple(images) if images else None,
    )


@pytest.fixture(scope="session")
def cni_kind_lab(request: pytest.FixtureRequest, cni_kind_settings: Any) -> Iterator[Any]:
    """A kind + Cilium + Multus lab with the plugin on every node and the NAD applied (pytest-kind's
    KindCluster). Created for the session and deleted after it; with `--keep-cluster` a running lab
    is used as it is and kept. Without Docker, kind, kubectl, helm or the e2e extra: skipped with
    the one reason, or failed where CI=true. Without a plugin or a NAD given: an error."""
    from krafty.testing.kind import tools

    reason = tools.missing()
    if reason:
        skip_or_fail(reason)
    if unset := cni_kind_settings.unset():
        pytest.fail(f"cni_kind_lab: {unset}", pytrace=False)
    from krafty.testing.kind import cluster

    keep = request.config.getoption("keep_cluster", default=False)
    if keep and cluster.exists(cni_kind_settings):
        yield cluster.attach(cni_kind_settings)
        return
    try:
        yield cluster.up(cni_kind_settings)
    finally:
        if not keep:
            cluster.down(cni_kind_settings)
