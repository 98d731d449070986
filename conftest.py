"""Test layers and the VM relay for the netns layer.

Tests are marked by directory: tests/unit → `unit`, tests/netns → `netns`, tests/e2e →
`e2e`, so `pytest -m <layer>` selects exactly one layer.

The netns layer needs a kernel with VRF. Where this one lacks it, the selected netns tests
run in one pytest session inside a throwaway VM (tools/vm.py) booting a kernel that has
it, over this machine's root filesystem. Each test's reports come back and are logged
here as if the test had run here: the result inside is the result outside, and a VM that
dies fails every test it did not report.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
LAYERS = ("unit", "netns", "e2e")
IN_VM = "KRAFTY_IN_VM"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("krafty")
    group.addoption(
        "--vm",
        choices=("auto", "always", "never"),
        default="auto",
        help="run the netns layer in a VM: when the kernel lacks VRF (auto), always, or never",
    )
    group.addoption("--report-to", default=None, help="(internal) write test reports as JSON lines to this file")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.path).relative_to(ROOT).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in LAYERS:
            item.add_marker(getattr(pytest.mark, parts[1]))


def pytest_configure(config: pytest.Config) -> None:
    report_to = config.getoption("report_to")
    if report_to:
        config.pluginmanager.register(ReportWriter(config, Path(report_to)), "krafty-report-writer")


def _needs_vm(config: pytest.Config) -> bool:
    choice = config.getoption("vm")
    if os.environ.get(IN_VM) or choice == "never":
        return False
    if choice == "always":
        return True
    sys.path.insert(0, str(ROOT / "tools"))
    import vm

    return not vm.host_has_vrf()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    netns_items = [item for item in session.items if item.get_closest_marker("netns")]
    if not netns_items or not _needs_vm(session.config):
        return
    if os.geteuid() != 0:
        return  # the layer skips itself without root
    if session.config.getoption("numprocesses", default=None):
        raise pytest.UsageError("the netns layer runs in a VM here: run it without -n (the VM runs it once)")
    session.config.pluginmanager.register(VmRelay(session.config, netns_items), "krafty-vm-relay")


class ReportWriter:
    """Inside the VM: write every test report as a JSON line, flushed as it happens."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config = config
        self.file = path.open("a", encoding="utf-8")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self.file.write(json.dumps(data) + "\n")
        self.file.flush()

    def pytest_unconfigure(self) -> None:
        self.file.close()


class VmRelay:
    """Outside the VM: boot it once for all selected netns tests and relay their reports."""

    def __init__(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        self.config = config
        self.items = items
        self.workdir = Path(tempfile.mkdtemp(prefix="krafty-vm-"))
        self.reports_path = self.workdir / "reports.jsonl"
        self.console_path = self.workdir / "console.log"
        self.reports: dict[str, list[pytest.TestReport]] = {}
        self.offset = 0
        self.thread: threading.Thread | None = None
        self.outcome: str | None = None  # None while running, then "" or why the VM failed

    def _boot(self) -> None:
        sys.path.insert(0, str(ROOT / "tools"))
        import vm

        self.reports_path.touch()
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-m",
            "netns",
            f"--report-to={self.reports_path}",
            *[item.nodeid for item in self.items],
        ]
        env = {**os.environ, IN_VM: "1", "PYTHONDONTWRITEBYTECODE": "1"}
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal:
            terminal.write_line(
                f"netns layer: this kernel lacks VRF, running {len(self.items)} tests in a VM "
                f"(console: {self.console_path})"
            )

        def boot() -> None:
            try:
                with self.console_path.open("w") as console:
                    status = vm.run(argv, cwd=ROOT, rw_dirs=[ROOT, self.workdir], env=env, console=console)
                self.outcome = "" if status in (0, 1) else f"pytest in the VM exited with {status}"
            except Exception as err:  # noqa: BLE001 - reported on every test the VM did not finish
                self.outcome = f"the VM failed: {err}"

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
        if item not in self.items:
            return None
        if self.thread is None:
            self._boot()
        while True:
            self._read_reports()
            if self._finished(item.nodeid) or self.outcome is not None:
                break
            time.sleep(0.2)
        self._read_reports()
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = self.reports.get(item.nodeid, [])
        if not self._finished(item.nodeid):
            tail = self.console_path.read_text(errors="replace").splitlines()[-40:]
            why = self.outcome or "no report"
            reports = [
                *reports,
                pytest.TestReport(
                    item.nodeid,
                    item.location,
                    {},
                    "failed",
                    f"no result from the VM: {why}\n" + "\n".join(tail),
                    "call",
                ),
            ]
        for report in reports:
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_unconfigure(self) -> None:
        if self.thread is not None:
            self.thread.join()
