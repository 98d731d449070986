"""The VM relay, with the VM stood in for: what the pytest in the VM is told, and how its reports
come back here as if the tests had run here (no root, no QEMU).

The stand-in VM (`krafty.testing.vm.run` replaced) does what the real one does with the argv it
is given: it runs the relayed tests' reports through `ReportWriter` into the `--cni-report-to`
file, writes to the console, and returns the exit status of the pytest in it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from krafty.testing import kernel, vm

SLEEP = "/bin/sleep"


class Item:
    """A relayed test as the relay sees it; its ihook records what reaches this session's reporting."""

    def __init__(self, nodeid: str, *features: str) -> None:
        self.nodeid = nodeid
        self.location = (nodeid.split("::")[0], 1, nodeid.split("::")[-1])
        self.marks = [pytest.mark.cni_kernel(*features).mark] if features else []
        self.shown: list[tuple[str, Any]] = []
        self.reports: dict[str, pytest.TestReport] = {}
        self.ihook = self

    def iter_markers(self, name: str) -> Any:
        return (mark for mark in self.marks if mark.name == name)

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.shown.append(("start", nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.shown.append((report.when, report.outcome))
        self.last_report = self.reports[report.when] = report

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.shown.append(("finish", nodeid))


class Config:
    """This session's options and hooks (the real ones turn reports into JSON and back)."""

    def __init__(self, real: pytest.Config, rootpath: Path, **options: Any) -> None:
        self.hook = real.hook
        self.rootpath = rootpath
        self.options = {"cni_vm_workers": 1, "cni_timeout": 300.0, "cni_path": None, **options}
        self.invocation_params = SimpleNamespace(args=options.pop("args", ()))
        self.option = SimpleNamespace(file_or_dir=options.pop("file_or_dir", []))
        self.plugins: dict[str, Any] = {}
        self.pluginmanager = self

    def getoption(self, name: str) -> Any:
        return self.options[name]

    def hasplugin(self, name: str) -> bool:
        return name in self.plugins

    def get_plugin(self, name: str) -> Any:
        return self.plugins.get(name)


class Terminal:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def option(argv: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{name}="))


def report(nodeid: str, when: str, outcome: str = "passed") -> pytest.TestReport:
    return pytest.TestReport(nodeid, (nodeid, 1, nodeid), {}, outcome, None, when)


class FakeVm:
    """`vm.run` stood in for: the pytest inside reports `outcomes` (nodeid -> call outcome) and exits with `status`."""

    def __init__(self, real: pytest.Config, outcomes: dict[str, str], status: int = 0, pause: float = 0) -> None:
        self.real = real
        self.outcomes = outcomes
        self.status = status
        self.pause = pause  # between a test's setup report and the rest: the relay polls meanwhile
        self.note = ""  # what vm.run says last, when the VM worked
        self.power_off = 0.0  # seconds between the last report and vm.run's return
        self.garbage = b""  # bytes a guest may print that are not UTF-8
        self.calls: list[dict[str, Any]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> int:
        self.calls.append({"argv": argv, **kwargs})
        kwargs["console"].write("booting\nthe VM's last line\n")
        time.sleep(0.05)  # the relay is waiting for reports by now, not handed them at once
        writer = kernel.ReportWriter(self.real, Path(option(argv, "cni-report-to")))
        for nodeid, outcome in self.outcomes.items():
            for when in ("setup", "call", "teardown"):
                writer.pytest_runtest_logreport(report(nodeid, when, outcome if when == "call" else "passed"))
                if when == "setup":
                    time.sleep(self.pause)
        writer.pytest_unconfigure()
        if self.power_off:  # a QEMU that needs this long to power off, killed if the relay does not wait
            qemu = subprocess.Popen(["sleep", str(self.power_off)])
            kwargs["started"](qemu)
            if qemu.wait() != 0:
                raise vm.VmDied("the VM stopped without writing the command's exit status")
        kwargs["console"].write(self.note)
        kwargs["console"].flush()
        kwargs["console"].buffer.write(self.garbage)
        return self.status


def read_until(relay: kernel.VmRelay, done: Any, seconds: float = 30.0) -> None:
    """Read the relay's reports until `done()`: the session's side while the stand-in VM works."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the stand-in VM never got there"
        relay._read_reports()
        time.sleep(0.05)


@pytest.fixture
def relay_for(pytestconfig, tmp_path, monkeypatch):
    """relay_for(items, vm_run, **options) -> VmRelay; each relay is stopped at teardown."""
    made: list[kernel.VmRelay] = []
    monkeypatch.setattr(kernel, "has_feature", lambda name: name in ("bridge", "veth"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    def make(items: list[Item], vm_run: Any, **options: Any) -> kernel.VmRelay:
        monkeypatch.setattr(vm, "run", vm_run)
        config = Config(pytestconfig, tmp_path, **options)
        relay = kernel.VmRelay(config, items, kernel.relay_modules(items))  # type: ignore[arg-type]
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.stop()


def test_a_relayed_tests_reports_are_shown_here_as_if_it_ran_here(pytestconfig, relay_for):
    items = [Item("t.py::test_a", "vlan"), Item("t.py::test_b", "vlan", "bridge")]
    fake = FakeVm(pytestconfig, {"t.py::test_a": "passed", "t.py::test_b": "failed"}, status=1, pause=0.3)
    relay = relay_for(items, fake)
    for item in items:
        assert relay.pytest_runtest_protocol(item, None) is True  # type: ignore[arg-type]
    assert items[0].shown == [
        ("start", "t.py::test_a"),
        ("setup", "passed"),
        ("call", "passed"),
        ("teardown", "passed"),
        ("finish", "t.py::test_a"),
    ]
    assert [when for when in items[1].shown if when[0] == "call"] == [("call", "failed")]
    assert relay.outcome == "", "tests failing in the VM (exit status 1) are not a VM failure"
    assert len(fake.calls) == 1, "one VM for all relayed tests"


def test_a_test_not_relayed_is_left_to_run_here(pytestconfig, relay_for):
    relay = relay_for([Item("t.py::test_a", "vlan")], FakeVm(pytestconfig, {}))
    here = Item("t.py::test_here", "bridge")
    assert relay.pytest_runtest_protocol(here, None) is None  # type: ignore[arg-type]
    assert here.shown == [] and relay.thread is None, "no VM is started for a test that runs here"


def test_the_vm_runs_the_relayed_tests_with_this_sessions_options_and_the_features_modules(
    pytestconfig, relay_for, tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")  # the pytest in the VM is no worker of this one
    items = [Item("t.py::test_a", "vlan"), Item("t.py::test_b", "dummy", "vlan")]
    fake = FakeVm(pytestconfig, dict.fromkeys(["t.py::test_a", "t.py::test_b"], "passed"))
    relay = relay_for(items, fake, cni_timeout=12.5, cni_path="/x/bin:/y/bin")
    relay.pytest_runtest_protocol(items[0], None)  # type: ignore[arg-type]
    (call,) = fake.calls
    argv, env = call["argv"], call["env"]
    assert argv[-2:] == ["t.py::test_a", "t.py::test_b"]
    assert option(argv, "cni-timeout") == "12.5" and option(argv, "cni-path") == "/x/bin:/y/bin"
    assert "-n" not in argv, "one worker asked for: no xdist in the VM"
    assert env[kernel.IN_VM] and "PYTEST_XDIST_WORKER" not in env
    assert call["cwd"] == tmp_path and Path(option(argv, "cni-report-to")).parent in call["rw_dirs"]
    assert call["modules"] == ("veth", "8021q", "dummy")


def test_the_vm_runs_its_tests_with_xdist_when_workers_are_asked_for_and_it_is_there(pytestconfig, relay_for):
    items = [Item("t.py::test_a", "vlan")]
    relay = relay_for(items, FakeVm(pytestconfig, {}), cni_vm_workers=2)
    assert "-n" not in relay.argv(), "no xdist here, no -n there"
    relay.config.plugins["xdist"] = object()
    argv = relay.argv()
    assert argv[:3] == [sys.executable, "-m", "pytest"] and argv[-1] == "t.py::test_a"
    assert argv[argv.index("-n") + 1] == "2"
    assert "--cni-path" not in " ".join(argv), "no --cni-path given here: the VM's pytest finds its own"
    relay.config.options["cni_vm_workers"] = 1
    assert "-n" not in relay.argv()


def test_the_relay_says_what_it_runs_in_the_vm_under_which_accelerator_and_where_its_console_is(
    pytestconfig, relay_for, monkeypatch
):
    items = [Item("t.py::test_a", "vlan"), Item("t.py::test_b", "vlan")]
    relay = relay_for(items, FakeVm(pytestconfig, dict.fromkeys(["t.py::test_a", "t.py::test_b"], "passed")))
    terminal = relay.config.plugins["terminalreporter"] = Terminal()
    monkeypatch.setattr(vm, "accelerator", lambda: ("tcg", "no usable /dev/kvm"))
    relay.start()
    relay.thread.join()
    under = f"tcg: no usable /dev/kvm; console: {relay.console_path}"
    assert terminal.lines == [f"cni_kernel: this kernel lacks vlan: running 2 tests in a VM ({under})"]
    monkeypatch.setattr(vm, "accelerator", lambda: ("kvm", ""))
    terminal.lines.clear()
    relay.start()
    relay.thread.join()
    assert terminal.lines == [
        f"cni_kernel: this kernel lacks vlan: running 2 tests in a VM (kvm; console: {relay.console_path})"
    ]
    assert relay.console_path.read_text() == "booting\nthe VM's last line\n"
    assert relay.outcome == "", "every test passed in the VM (exit status 0)"


@pytest.mark.parametrize(
    ("status", "raised", "why"),
    [
        (3, None, "pytest in the VM exited with 3"),
        (0, RuntimeError("  qemu: no kernel  \n"), "the VM failed: qemu: no kernel"),
    ],
)
def test_each_test_the_vm_did_not_report_fails_with_why_and_the_console_tail_once(
    pytestconfig, relay_for, status, raised, why
):
    fake = FakeVm(pytestconfig, {"t.py::test_a": "passed"}, status=status)

    def vm_run(argv: list[str], **kwargs: Any) -> int:
        fake(argv, **kwargs)
        if raised:
            raise raised
        return status

    items = [Item("t.py::test_a", "vlan"), Item("t.py::test_b", "vlan"), Item("t.py::test_c", "vlan")]
    relay = relay_for(items, vm_run)
    for item in items:
        relay.pytest_runtest_protocol(item, None)  # type: ignore[arg-type]
    assert [when for when, _ in items[0].shown] == ["start", "setup", "call", "teardown", "finish"]
    for item in items[1:]:
        assert item.shown == [("start", item.nodeid), ("call", "failed"), ("finish", item.nodeid)]
    first, second = items[1].last_report.longrepr, items[2].last_report.longrepr
    assert first.startswith(f"no result from the VM: {why}\n") and first.endswith("the VM's last line")
    assert second == f"no result from the VM: {why}", "the console's tail is shown under one test only"


def test_stop_kills_a_vm_still_running_and_removes_its_files(pytestconfig, relay_for):
    running = threading.Event()

    def vm_run(argv: list[str], *, started: Any, **kwargs: Any) -> int:
        proc = subprocess.Popen([SLEEP, "5"])
        started(proc)
        running.set()
        return proc.wait()

    relay = relay_for([Item("t.py::test_a", "vlan")], vm_run)
    relay.start()
    assert running.wait(10)
    assert relay.thread.daemon, "a VM thread never holds this interpreter at exit, stop() or not"
    qemu, workdir = relay.qemu, relay.workdir
    assert workdir.is_dir()
    relay.stop()
    assert qemu.poll() == -signal.SIGKILL, "the VM outlived the session"
    assert not relay.thread.is_alive() and not workdir.exists()
    assert relay.outcome == f"pytest in the VM exited with {qemu.returncode}"


def test_the_report_writer_writes_each_report_as_one_flushed_json_line_without_the_xdist_node(pytestconfig, tmp_path):
    path = tmp_path / "reports.jsonl"
    writer = kernel.ReportWriter(pytestconfig, path)
    relayed = report("t.py::test_a", "call", "failed")
    relayed.node = object()  # what xdist puts on a worker's report: meaningless outside the VM
    relayed.user_properties = [("where", Path("/x"))]  # a test may record any object
    writer.pytest_runtest_logreport(relayed)
    (line,) = path.read_text().splitlines()  # read before the session ends: flushed as it happens
    data = json.loads(line)
    assert (data["nodeid"], data["when"], data["outcome"]) == ("t.py::test_a", "call", "failed")
    assert "node" not in data and data["user_properties"] == [["where", repr(Path("/x"))]]
    writer.pytest_unconfigure()
    assert writer.file.closed


def test_a_report_line_is_read_once_and_only_when_whole(pytestconfig, relay_for):
    """The VM writes while the relay reads: a line still being written waits for its end."""
    relay = relay_for([Item("t.py::test_a", "vlan")], FakeVm(pytestconfig, {}))
    writer = kernel.ReportWriter(pytestconfig, relay.reports_path)
    writer.pytest_runtest_logreport(report("t.py::test_a", "setup"))
    line = json.dumps(
        pytestconfig.hook.pytest_report_to_serializable(
            config=pytestconfig, report=report("t.py::test_a", "call", "failed")
        )
    )
    with relay.reports_path.open("a") as stream:
        stream.write(line[:20])
    relay._read_reports()
    assert [r.when for r in relay.reports["t.py::test_a"]] == ["setup"]
    with relay.reports_path.open("a") as stream:
        stream.write(line[20:] + "\n")
    writer.pytest_runtest_logreport(report("t.py::test_a", "teardown"))
    relay._read_reports()
    relay._read_reports()
    assert [(r.when, r.outcome) for r in relay.reports["t.py::test_a"]] == [
        ("setup", "passed"),
        ("call", "failed"),
        ("teardown", "passed"),
    ]
    writer.pytest_unconfigure()


def test_the_pytest_the_vm_is_given_runs_the_relayed_tests_and_reports_them(pytestconfig, relay_for, tmp_path):
    """vm.run's promise is "run argv in a VM": here the stand-in runs it on this kernel, in the project."""
    (tmp_path / "test_it.py").write_text(
        "def test_a():\n    pass\n\ndef test_b():\n    assert False, 'in the VM'\n\ndef test_not_relayed():\n    pass\n"
    )

    def vm_run(argv: list[str], *, cwd: Path, env: dict[str, str], console: Any, **kwargs: Any) -> int:
        env = {**env, "PYTEST_ADDOPTS": "-p no:hypothesispytest"}  # seconds per session, unused there
        return subprocess.run(argv, cwd=cwd, env=env, stdout=console, stderr=console, check=False).returncode

    items = [Item("test_it.py::test_a"), Item("test_it.py::test_b")]
    relay = relay_for(items, vm_run, cni_timeout=7.0)
    for item in items:
        relay.pytest_runtest_protocol(item, None)  # type: ignore[arg-type]
    relay.thread.join()
    console = relay.console_path.read_text()
    assert relay.outcome == "", console
    assert [shown for shown in items[0].shown if shown[0] == "call"] == [("call", "passed")], console
    assert [shown for shown in items[1].shown if shown[0] == "call"] == [("call", "failed")], console
    assert "in the VM" in str(items[1].reports["call"].longrepr)
    assert set(relay.reports) == {"test_it.py::test_a", "test_it.py::test_b"}, "only the relayed tests run there"
    assert not (tmp_path / ".pytest_cache").exists(), "the VM's pytest writes nothing into the project"


def test_the_summary_says_how_long_the_vm_took_and_where_the_time_went(pytestconfig, relay_for):
    items = [Item("t.py::test_a", "vlan"), Item("t.py::test_b", "vlan")]
    fake = FakeVm(pytestconfig, dict.fromkeys(["t.py::test_a", "t.py::test_b"], "passed"))
    fake.note = "krafty.testing.vm: booted in 31 s; the command took 540 s\n"
    relay = relay_for(items, fake)
    terminal = Terminal()
    relay.pytest_terminal_summary(terminal)
    assert terminal.lines == [], "nothing to say before the VM ran"
    relay.start()
    relay.thread.join()
    relay.pytest_terminal_summary(terminal)
    assert terminal.lines == ["cni_kernel: the VM ran 2 tests in 0 s (booted in 31 s; the command took 540 s)"]


@pytest.mark.parametrize(
    ("note", "garbage", "line"),
    [
        ("", b"", "cni_kernel: the VM ran 1 tests in 0 s"),
        (
            "krafty.testing.vm: booted in 31 s; the command took 540 s\n",
            b"\xff\xfe a guest's line that is not UTF-8\n",
            "cni_kernel: the VM ran 1 tests in 0 s (booted in 31 s; the command took 540 s)",
        ),
    ],
    ids=["a VM that left no note", "a console that is not all UTF-8"],
)
def test_the_summary_says_what_it_knows(pytestconfig, relay_for, note, garbage, line):
    fake = FakeVm(pytestconfig, {"t.py::test_a": "passed"})
    fake.note, fake.garbage = note, garbage
    relay = relay_for([Item("t.py::test_a", "vlan")], fake)
    relay.start()
    relay.thread.join()
    terminal = Terminal()
    relay.pytest_terminal_summary(terminal)
    assert terminal.lines == [line]


def test_a_vm_that_reported_every_test_may_power_off_before_the_session_stops_it(pytestconfig, relay_for):
    """The session ends with the last report; the VM's own end (and its time note) comes after."""
    items = [Item("t.py::test_a", "vlan")]
    fake = FakeVm(pytestconfig, {"t.py::test_a": "passed"})
    fake.note, fake.power_off = "krafty.testing.vm: booted in 31 s; the command took 540 s\n", 1.0
    relay = relay_for(items, fake)
    relay.start()
    read_until(relay, lambda: relay._finished("t.py::test_a"))
    relay.stop()
    terminal = Terminal()
    relay.pytest_terminal_summary(terminal)
    assert terminal.lines == ["cni_kernel: the VM ran 1 tests in 1 s (booted in 31 s; the command took 540 s)"]


def test_a_vm_that_does_not_power_off_in_time_is_killed(pytestconfig, relay_for, monkeypatch):
    """Every test reported, then a VM that hangs on its way down: the session's end kills it
    once POWER_OFF_WAIT has passed, instead of waiting for it."""
    monkeypatch.setattr(kernel, "POWER_OFF_WAIT", 0.2)
    fake = FakeVm(pytestconfig, {"t.py::test_a": "passed"})
    fake.power_off = 600.0
    relay = relay_for([Item("t.py::test_a", "vlan")], fake)
    relay.start()
    read_until(relay, lambda: relay._finished("t.py::test_a") and relay.qemu is not None)
    relay.stop()
    assert relay.qemu.returncode == -signal.SIGKILL
    assert not relay.thread.is_alive()


def test_the_options_given_here_reach_the_pytest_in_the_vm_but_those_the_relay_sets_or_used(pytestconfig, relay_for):
    """-x, -o, -p, --basetemp and a conftest's own options go on; paths, selection, xdist,
    the cache's replays and the relay's own options do not (the VM gets the tests' ids)."""
    given = [
        "-n", "2", "-x", "-k", "vlan and not slow", "-o", "log_level=DEBUG", "-n2", "-p", "no:randomly",
        "--deselect=t.py::test_x[a=b]", "-kvlan", "--basetemp=/tmp/b", "-mnetns", "--my-conftest-option", "v",
        "tests/netns", "--dist=load", "-m", "netns",
        "--cni-vm=always", "--cni-path", "/x", "--cni-timeout=5", "--lf", "--sw", "tests/netns/test_a.py::test_b",
    ]  # fmt: skip
    items = [Item("t.py::test_a", "vlan")]
    positionals = ["tests/netns", "tests/netns/test_a.py::test_b"]
    relay = relay_for(items, FakeVm(pytestconfig, {}), args=given, file_or_dir=positionals)
    argv = relay.argv()
    start = argv.index("no:randomly") + 1
    assert argv[start : start + 8] == [
        "-x", "-o", "log_level=DEBUG", "-p", "no:randomly", "--basetemp=/tmp/b", "--my-conftest-option", "v",
    ]  # fmt: skip
    assert argv[start + 8 :] == [
        "--cni-report-to=" + option(argv, "cni-report-to"),
        "--cni-timeout=300.0",
        "t.py::test_a",
    ]


@pytest.mark.parametrize("refused", ["--pdb", "--trace", "--pdbcls=IPython.terminal.debugger:Pdb"])
def test_an_option_the_vm_cannot_honour_is_refused_with_why(refused):
    with pytest.raises(pytest.UsageError, match=f"^{refused.split('=')[0]} cannot reach cni_kernel tests run in a VM"):
        kernel.passed_on(["-x", refused], [])
