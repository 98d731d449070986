"""The pytest plugin (entry point `krafty`): fixtures for testing any CNI plugin.

Loading it is cheap and inert: no pyroute2 until a fixture reads a namespace, no autouse
fixture, options and markers under `--cni-` / `cni_`. `pytest -p no:krafty` turns it off.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from krafty.testing import kernel
from krafty.testing.clean import CleanChecker
from krafty.testing.conformance import options as conformance_options
from krafty.testing.kill import kill_at
from krafty.testing.mounts import DEFAULT_PATHS, PrivateMounts
from krafty.testing.netns import Netns
from krafty.testing.runtime import DEFAULT_CNI_PATH, DEFAULT_TIMEOUT, Attachment, Runtime

RELAYED = pytest.StashKey[set]()
UNRUNNABLE = pytest.StashKey[dict]()
RELAY = pytest.StashKey["kernel.VmRelay | None"]()
CALL_FAILED = pytest.StashKey[bool]()


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
    group = parser.getgroup(
        "cni",
        "CNI plugin testing (krafty.testing)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-path",
        default=None,
        help="directories searched for plugins after the test's own "  # pragma: no mutate
        f"(default: $CNI_PATH, else {':'.join(DEFAULT_CNI_PATH)})",  # pragma: no mutate
    )
    group.addoption(
        "--cni-vm",
        choices=("auto", "always", "never"),
        default="auto",
        help="run cni_kernel tests in a VM: when the kernel lacks a feature "  # pragma: no mutate
        "(auto), always, or never",  # pragma: no mutate
    )
    group.addoption(
        "--cni-vm-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="pytest -n inside the VM",  # pragma: no mutate
    )
    group.addoption(
        "--cni-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds a plugin call may take (default {DEFAULT_TIMEOUT:g})",  # pragma: no mutate
    )
    conformance_options.add_options(group)
    group.addoption("--cni-report-to", default=None, help=argparse.SUPPRESS)  # set by the VM relay
    group.addoption(
        "--cni-kind-plugin",
        default=None,
        help="cni_kind_lab: the plugin (executable or bundle dir)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-kind-nad",
        default=None,
        help="cni_kind_lab: the NetworkAttachmentDefinition (YAML)",  # pragma: no mutate
    )
    group.addoption(
        "--cni-kind-image",
        action="append",
        default=None,
        help="cni_kind_lab: a local image to load (repeatable)",  # pragma: no mutate
    )
    parser.addini(
        "cni_clean",
        "every test: its cni_netns namespaces must be clean at teardown",  # pragma: no mutate
        type="bool",
    )
    parser.addini(
        "cni_private_mounts",
        "every test: plugins run in a private mount namespace",  # pragma: no mutate
        type="bool",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cni_kernel(*features): the test needs these kernel features (built in: vrf, bridge, veth, dummy, vxlan, "
        "macvlan, ipvlan, vlan; more with krafty.testing.kernel.register_feature); "  # pragma: no mutate
        "where the kernel lacks one "  # pragma: no mutate
        "it runs in a VM",  # pragma: no mutate
    )
    config.addinivalue_line(
        "markers",
        "cni_versions(*plugins, min=None, max=None): run the test once per CNI version all these plugins list "
        "in VERSION (argument `cni_version`)",  # pragma: no mutate
    )
    config.addinivalue_line("markers", "cni_clean: at teardown, after the DELs, every cni_netns namespace is clean")
    config.addinivalue_line("markers", "cni_private_mounts(*paths): plugins' files under paths stay in a tmpfs")
    report_to = config.getoption("cni_report_to")
    if report_to and not hasattr(config, "workerinput"):
        config.pluginmanager.register(kernel.ReportWriter(config, Path(report_to)), "cni-report-writer")
    config.stash[RELAY] = None
    if config.getoption("cni_conformance"):
        from krafty.testing.conformance.pytest_plugin import Conformance

        config.pluginmanager.register(Conformance(config), "cni-conformance")


# Where a cni_kernel test runs (placement): here, in the VM, or nowhere, and why not.
HERE, VM, SKIP, FAIL = "here", "vm", "skip", "fail"  # SKIP: skipped, or failed where CI=true


def placement(item: pytest.Item, choice: str, inside: bool, root: bool) -> tuple[str, str]:
    """(where, why) for one cni_kernel test, choice being --cni-vm (auto, always, never)."""
    missing = kernel.missing_features(item)  # an unknown feature name is an error, root or not
    if not root:  # nothing can be probed, nor run in a VM
        return SKIP, "needs root (to probe its cni_kernel features)"
    if inside:  # the VM was booted to bring these features: lacking one there is a failure
        if not missing:
            return HERE, ""
        from krafty.testing.vm import MODPROBE_FAILED

        failed = os.environ.get(MODPROBE_FAILED)
        return FAIL, f"{kernel.lacks(missing)} (in the VM" + (f": {failed})" if failed else ")")
    if not missing and choice != "always":
        return HERE, ""
    needs = kernel.lacks(missing) if missing else "--cni-vm=always"
    if choice == "never":
        return SKIP, f"{needs} (and --cni-vm=never)"
    if why := kernel.vm_unavailable():
        return SKIP, f"{needs} and no VM can run here: {why}"
    return VM, ""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Decide where each cni_kernel test runs: here, in the VM, or nowhere (and why)."""
    choice = config.getoption("cni_vm")
    inside = bool(os.environ.get(kernel.IN_VM))
    root = os.geteuid() == 0
    placed = {
        item.nodeid: placement(item, choice, inside, root) for item in items if item.get_closest_marker("cni_kernel")
    }
    relayed = {nodeid for nodeid, (where, _) in placed.items() if where == VM}
    if relayed and config.getoption("numprocesses", default=None):
        raise pytest.UsageError("cni_kernel tests run in a VM here: run without -n (the VM runs them with -n)")
    if relayed:
        kernel.passed_on(config.invocation_params.args, config.option.file_or_dir or [])  # refuses what cannot reach it
    # Tests that run here go first: they run while the VM boots and works.
    items[:] = [item for item in items if item.nodeid not in relayed] + [i for i in items if i.nodeid in relayed]
    config.stash[RELAYED] = relayed
    config.stash[UNRUNNABLE] = {
        nodeid: (where, why) for nodeid, (where, why) in placed.items() if where in (SKIP, FAIL)
    }


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
    where, why = item.config.stash.get(UNRUNNABLE, {}).get(item.nodeid, (HERE, ""))
    if where == FAIL:
        pytest.fail(why, pytrace=False)
    if where == SKIP:
        skip_or_fail(why)
    version = getattr(getattr(item, "callspec", None), "params", {}).get("cni_version")
    if type(version).__name__ == "Unavailable":  # krafty.testing.versions.Unavailable, not imported here
        pytest.fail(str(version), pytrace=False)


def require_root() -> None:
    if os.geteuid() != 0:
        skip_or_fail("needs root (network namespaces)")


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def cni_netns(request: pytest.FixtureRequest) -> Iterator[Callable[..., Netns]]:
    """Factory: `cni_netns(role="pod") -> Netns` (lo up, baseline taken), every namespace removed at
    teardown; with `cni_clean` (marker or ini) each must be clean first, after the runtime's DELs."""
    require_root()
    _private_mounts(request)  # made first, ended last: the clean check below still lists its files
    auto_clean: CleanChecker | None = None
    if request.node.get_closest_marker("cni_clean") or request.config.getini("cni_clean"):
        auto_clean = request.getfixturevalue("cni_assert_clean")
    made: list[Netns] = []

    def make(role: str = "pod") -> Netns:
        ns = Netns(role)
        made.append(ns)
        ns.up("lo")
        ns.rebaseline()
        return ns

    yield make
    problems = []
    if auto_clean is not None and not request.node.stash.get(CALL_FAILED, False):
        try:
            auto_clean(*made)
        except AssertionError as err:
            problems.append(f"cni_clean: {err}")
    failures = []
    for ns in reversed(made):
        try:
            ns.remove()
        except Exception as err:  # noqa: BLE001 - every namespace gets its chance; all failures reported
            failures.append(str(err))
    if failures:
        problems.append("namespaces not removed:\n" + "\n".join(failures))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def cni_node(cni_netns: Callable[..., Netns]) -> Netns:
    """A throwaway "node": plugins run in it, so the host's own network is never touched."""
    return cni_netns("node")


def _search_path(config: pytest.Config) -> list[str]:
    configured = config.getoption("cni_path") or os.environ.get("CNI_PATH") or ":".join(DEFAULT_CNI_PATH)
    return [p for p in configured.split(":") if p]


@pytest.fixture
def cni_runtime(request: pytest.FixtureRequest, cni_node: Netns, tmp_path: Path) -> Iterator[Runtime]:
    """Runs plugins in `cni_node` as libcni does; at teardown every attachment still held
    (a failed ADD's and a killed ADD's included) gets its DEL, as CRI sends one."""
    plugin_dir = tmp_path / "cni-bin"
    plugin_dir.mkdir()
    runtime = Runtime(
        cni_node,
        _search_path(request.config),
        tmp_path / "cni-cache",
        plugin_dir=plugin_dir,
        timeout=request.config.getoption("cni_timeout"),
        mounts=_private_mounts(request),
    )
    yield runtime
    failures = []
    for attachment in reversed(list(runtime.attachments)):
        if not any(held is attachment for held in runtime.attachments):
            continue  # DEL'd already with an attachment of the same key
        try:
            runtime.delete(attachment)
        except Exception as err:  # noqa: BLE001 - every attachment gets its DEL; all failures reported
            where = f"{attachment.network} {attachment.container_id[:12]} {attachment.ifname}"
            failures.append(f"{where}: {type(err).__name__}: {err}")
    if failures:
        pytest.fail("DEL at teardown failed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture
def cni_assert_clean(request: pytest.FixtureRequest) -> CleanChecker:
    """`cni_assert_clean(node, *pods, ipam_dirs=())`: nothing left since each namespace's baseline
    (and no file under the private mounts, where the test has them)."""
    return CleanChecker(mounts=_private_mounts(request))


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


# --- rules turned off with `add(..., skip_checks=...)`, shown in the report ------------------

CHECK_OFF = "cni_check_off"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before the fixtures go: each rule a test turned off joins its report (`user_properties`)."""
    runtime = (getattr(item, "funcargs", None) or {}).get("cni_runtime")
    for rule, reason in getattr(runtime, "checks_off", ()):
        item.user_properties.append((CHECK_OFF, f"{rule}: {reason}"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """A verdict that passed with a rule off says so: test, rule and reason."""
    lines = [
        f"{report.nodeid} {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        for name, value in getattr(report, "user_properties", ())
        if name == CHECK_OFF
    ]
    if lines:
        terminalreporter.section("CNI checks turned off")
        for line in lines:
            terminalreporter.line(line)


# --- clean check at teardown, private mounts ------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember a failed test: the `cni_clean` check does not pile leftovers onto its failure."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


def _private_mounts(request: pytest.FixtureRequest) -> PrivateMounts | None:
    """The test's private mount namespace, where it asked for one (marker, ini, or the fixture)."""
    wanted = (
        request.node.get_closest_marker("cni_private_mounts")
        or request.config.getini("cni_private_mounts")
        or "cni_private_mounts" in request.fixturenames
    )
    return request.getfixturevalue("cni_private_mounts") if wanted else None


@pytest.fixture
def cni_private_mounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PrivateMounts]:
    """Plugins run in a mount namespace where the marker's paths (default /var/lib/cni, /run/cni)
    are overlays on a tmpfs: what they write stays there, and `cni_assert_clean` lists it."""
    require_root()
    marker = request.node.get_closest_marker("cni_private_mounts")
    mounts = PrivateMounts(marker.args if marker and marker.args else DEFAULT_PATHS, tmp_path / "private-mounts")
    yield mounts
    mounts.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`cni_versions(*plugins)`: one test per spec version the plugins' VERSION lists."""
    marker = metafunc.definition.get_closest_marker("cni_versions")
    if marker is not None:
        from krafty.testing import versions

        versions.parametrize(metafunc, marker, _search_path(metafunc.config))
