"""Kernel features a test needs, and running the tests that need them in a VM.

`@pytest.mark.cni_kernel("vrf")` says a test needs the kernel to create VRF devices. A
feature is data: a probe (a command run in a throwaway network namespace; exit 0 means the
kernel has it) and the modules that bring it. Where the running kernel lacks a feature, the
tests that need it run in one pytest session inside a QEMU VM booting a kernel that has it
(`krafty.testing.vm`), and each test's reports come back and are shown here as if it had
run here. A VM that dies fails every test it did not report.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

IN_VM = "CNI_TESTING_IN_VM"  # set by the relay for the pytest it runs in the VM


@dataclass(frozen=True)
class Feature:
    """A kernel feature: how to probe for it, and which modules bring it in the VM."""

    name: str
    probe: tuple[str, ...]
    modules: tuple[str, ...]


FEATURES: dict[str, Feature] = {}


def register_feature(name: str, probe: tuple[str, ...], modules: tuple[str, ...]) -> None:
    """Teach the marker a feature: `probe` runs under `unshare --net` and exits 0 when present.

    Call it where pytest reads it before collecting: a conftest.py at import time (or its
    pytest_configure). `modules` are what the VM loads for a test that needs the feature.
    """
    FEATURES[name] = Feature(name, tuple(probe), tuple(modules))


def _on_a_veth(kind: str) -> tuple[str, ...]:
    """A probe for a device that needs an ethernet parent: a veth made in the probe's own namespace.

    No device is named `d`, `dev` or the like: iproute2 reads such names as keywords.
    """
    return ("sh", "-c", f"ip link add probe0 type veth peer name probe1 && ip link add probe2 link probe0 {kind}")


register_feature("vrf", ("ip", "link", "add", "probe", "type", "vrf", "table", "4242"), ("vrf",))
register_feature("bridge", ("ip", "link", "add", "probe", "type", "bridge"), ("bridge",))
register_feature("veth", ("ip", "link", "add", "probe", "type", "veth", "peer", "name", "probe1"), ("veth",))
register_feature("dummy", ("ip", "link", "add", "probe", "type", "dummy"), ("dummy",))
register_feature("vxlan", ("ip", "link", "add", "probe", "type", "vxlan", "id", "1", "dstport", "4789"), ("vxlan",))
register_feature("macvlan", _on_a_veth("type macvlan mode bridge"), ("veth", "macvlan"))
register_feature("ipvlan", _on_a_veth("type ipvlan mode l2"), ("veth", "ipvlan"))
register_feature("vlan", _on_a_veth("type vlan id 5"), ("veth", "8021q"))


def features_of(item: pytest.Item) -> tuple[str, ...]:
    names: list[str] = []
    for mark in item.iter_markers("cni_kernel"):
        names += [str(name) for name in mark.args]
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: unknown cni_kernel feature(s) {unknown}; known: {sorted(FEATURES)}")
    return tuple(dict.fromkeys(names))


def probe(name: str) -> bool:
    """Run the feature's probe now, in a network namespace that vanishes with it."""
    argv = ["unshare", "--net", *FEATURES[name].probe]
    return subprocess.run(argv, check=False, capture_output=True).returncode == 0


@functools.cache
def has_feature(name: str) -> bool:
    """`probe`, once per session."""
    return probe(name)


def missing_features(item: pytest.Item) -> tuple[str, ...]:
    names = features_of(item)  # an unknown name is an error, root or not
    if os.geteuid() != 0:
        return ()  # unprobeable: the test is skipped (or, in CI, failed) for want of root
    return tuple(name for name in names if not has_feature(name))


def lacks(features: tuple[str, ...] | list[str]) -> str:
    """What a skip, a failure or the relay says: the features, never the modules behind them."""
    return f"this kernel lacks {', '.join(features)}"


def vm_unavailable() -> str | None:
    """Why no VM can be built here, or None."""
    from krafty.testing.vm import missing_tools

    return missing_tools()


class ReportWriter:
    """Inside the VM: write every test report as a JSON line, flushed as it happens."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.file = path.open("a", encoding="utf-8")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        data.pop("node", None)  # under xdist: the worker's controller, meaningless outside
        self.file.write(json.dumps(data, default=repr) + "\n")
        self.file.flush()

    def pytest_unconfigure(self) -> None:
        self.file.close()


# This session's options that the pytest in the VM does not get: the relay gives its own, or
# what they do (select, schedule, remember) was done here. Each with how many values follow it.
NOT_PASSED_ON = {
    **dict.fromkeys(["-n", "--numprocesses", "--maxprocesses", "--dist", "-k", "-m", "--deselect"], 1),
    **dict.fromkeys(["--cni-vm", "--cni-vm-workers", "--cni-report-to", "--cni-timeout", "--cni-path"], 1),
    **dict.fromkeys(["--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first"], 0),
    **dict.fromkeys(["--sw", "--stepwise", "--sw-skip", "--stepwise-skip", "--cache-clear"], 0),
    **dict.fromkeys(["--lfnf", "--last-failed-no-failures"], 1),
}
# Options the VM cannot honour: its pytest has no terminal to debug in.
REFUSED = ("--pdb", "--trace", "--pdbcls")


def passed_on(args: Sequence[str], positionals: Sequence[str]) -> list[str]:
    """The options of this session's command line for the pytest in the VM (-x, -o, -p,
    --basetemp, a conftest's own options, ...): all but NOT_PASSED_ON and the positional
    arguments (the VM gets the relayed tests' ids instead)."""
    left = list(positionals)
    passed: list[str] = []
    skip = 0
    for arg in args:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in REFUSED:
            raise pytest.UsageError(f"{name} cannot reach cni_kernel tests run in a VM (it has no terminal)")
        if left and arg == left[0]:
            left.pop(0)
        elif name in NOT_PASSED_ON:
            skip = 0 if "=" in arg else NOT_PASSED_ON[name]
        elif name[:2] in ("-n", "-k", "-m"):
            continue  # -n2, -kexpr (-n, -k and -m alone are NOT_PASSED_ON's)
        else:
            passed.append(arg)
    return passed


POWER_OFF_WAIT = 60.0  # seconds: sync and poweroff after the VM's pytest, under TCG


class VmRelay:
    """Outside the VM: boot it once for all relayed tests, in the background, and relay
    their reports; the other tests run here meanwhile."""

    def __init__(self, config: pytest.Config, items: list[pytest.Item], modules: tuple[str, ...]) -> None:
        self.config = config
        self.items = items
        self.nodeids = {item.nodeid for item in items}
        self.modules = modules
        self.workdir = Path(tempfile.mkdtemp(prefix="cni-vm-"))
        self.reports_path = self.workdir / "reports.jsonl"
        self.console_path = self.workdir / "console.log"
        self.reports: dict[str, list[pytest.TestReport]] = {}
        self.offset = 0
        self.thread: threading.Thread | None = None
        self.qemu: subprocess.Popen | None = None
        self.outcome: str | None = None  # None while running, then "" or why the VM failed
        self.console_shown = False
        self.took = ""  # once the VM is done: its time, and where it went (vm's note)

    def argv(self) -> list[str]:
        workers = int(self.config.getoption("cni_vm_workers"))
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-p", "no:randomly"]
        invocation = self.config.invocation_params
        argv += passed_on(invocation.args, self.config.option.file_or_dir or [])
        argv += [f"--cni-report-to={self.reports_path}", f"--cni-timeout={self.config.getoption('cni_timeout')}"]
        if self.config.getoption("cni_path"):
            argv.append(f"--cni-path={self.config.getoption('cni_path')}")
        if workers > 1 and self.config.pluginmanager.hasplugin("xdist"):
            argv += ["-n", str(workers)]
        return argv + [item.nodeid for item in self.items]

    def why(self) -> str:
        """The features this kernel lacks, or that the VM was asked for with nothing missing."""
        missing = dict.fromkeys(name for item in self.items for name in missing_features(item))
        return lacks(list(missing)) if missing else "--cni-vm=always"

    def start(self) -> None:
        from krafty.testing import vm

        self.reports_path.touch()
        env = {**os.environ, IN_VM: "1"}
        env.pop("PYTEST_XDIST_WORKER", None)
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal:
            accel, slow = vm.accelerator()
            under = f"{accel}: {slow}" if slow else accel
            n = len(self.items)
            terminal.write_line(
                f"cni_kernel: {self.why()}: running {n} tests in a VM ({under}; console: {self.console_path})"
            )

        def boot() -> None:
            launched = time.monotonic()
            try:
                with self.console_path.open("w") as console:
                    status = vm.run(
                        self.argv(),
                        cwd=Path(self.config.rootpath),
                        rw_dirs=[self.workdir],
                        env=env,
                        console=console,
                        modules=self.modules,
                        started=lambda proc: setattr(self, "qemu", proc),
                    )
                self.outcome = "" if status in (0, 1) else f"pytest in the VM exited with {status}"
            except Exception as err:  # noqa: BLE001 - reported on every test the VM did not finish
                self.outcome = f"the VM failed: {str(err).strip()}"
            notes = self.console_path.read_text(errors="replace").splitlines()
            where = [line.removeprefix(vm.NOTE) for line in notes if line.startswith(vm.NOTE + vm.BOOTED_IN)]
            self.took = f"{time.monotonic() - launched:.0f} s" + (f" ({where[-1]})" if where else "")

        self.thread = threading.Thread(target=boot, daemon=True)
        self.thread.start()

    def _read_reports(self) -> None:
        with self.reports_path.open(encoding="utf-8") as stream:
            stream.seek(self.offset)
            while line := stream.readline():
                if not line.endswith("\n"):
                    break
                self.offset += len(line.encode())
                report = self.config.hook.pytest_report_from_serializable(config=self.config, data=json.loads(line))
                self.reports.setdefault(report.nodeid, []).append(report)

    def _finished(self, nodeid: str) -> bool:
        return any(r.when == "teardown" for r in self.reports.get(nodeid, ()))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        if item.nodeid not in self.nodeids:
            return None
        if self.thread is None:
            self.start()
        while True:
            self._read_reports()
            if self._finished(item.nodeid) or self.outcome is not None:
                break
            time.sleep(0.2)
        self._read_reports()
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = self.reports.get(item.nodeid, [])
        if not self._finished(item.nodeid):
            why = self.outcome or "no report"
            failure = f"no result from the VM: {why}"
            if not self.console_shown:  # the console's tail once, not under every test
                self.console_shown = True
                failure += "\n" + "\n".join(self.console_path.read_text(errors="replace").splitlines()[-60:])
            reports = [*reports, pytest.TestReport(item.nodeid, item.location, {}, "failed", failure, "call")]
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Where the VM's minutes went: what a run here pays for the tests it cannot run itself."""
        if self.took:
            terminalreporter.write_line(f"cni_kernel: the VM ran {len(self.items)} tests in {self.took}")

    def stop(self) -> None:
        """The session is over (or interrupted): a VM still running is killed, its files removed.
        One that has reported every test is powering off: it gets POWER_OFF_WAIT seconds to end
        by itself, so that vm.run's last note (where its time went) is not lost."""
        if self.thread is not None and all(self._finished(nodeid) for nodeid in self.nodeids):
            self.thread.join(timeout=POWER_OFF_WAIT)
        if self.qemu is not None and self.qemu.poll() is None:
            self.qemu.kill()
        if self.thread is not None:
            self.thread.join(timeout=30)
        shutil.rmtree(self.workdir, ignore_errors=True)


def relay_modules(items: list[pytest.Item]) -> tuple[str, ...]:
    modules: dict[str, Any] = {}
    for item in items:
        for name in features_of(item):
            modules.update(dict.fromkeys(FEATURES[name].modules))
    return tuple(modules)
