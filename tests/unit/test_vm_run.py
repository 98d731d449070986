"""krafty.testing.vm.run and `python -m krafty.testing.vm`, against a stand-in for QEMU.

No VM boots here (the netns layer's VM runs do). The stand-in `qemu-system-x86_64` plays the
guest's part as the init script does it: it finds the control share among its `-fsdev`
options, runs the command script there with the console as its stdin, and writes the exit
status back, or it stops without a status, or it hangs. The tests read what run handed QEMU
(its command line, the per-run setup script) as QEMU and the init read it.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from krafty.testing import vm
from tests.unit.test_vm_image import KVER, kernel_tree

FAKE_QEMU = """\
import ctypes, json, os, shutil, subprocess, sys, time

def options(text):  # QEMU's -fsdev syntax: key=value pairs split on ",", where ",," is a literal comma
    pairs, current, i = [], "", 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1 : i + 2] == ",":
                current, i = current + ",", i + 2
                continue
            pairs.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    pairs.append(current)
    return pairs

record = os.environ["FAKE_QEMU_RECORD"]
argv = sys.argv[1:]
shares = {}
for flag, value in zip(argv, argv[1:]):
    if flag == "-fsdev":
        kind, *pairs = options(value)
        fields = dict(p.partition("=")[::2] for p in pairs)
        shares[fields["id"]] = fields
deathsig = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig))  # PR_GET_PDEATHSIG
stdin = os.readlink("/proc/self/fd/0")
with open(os.path.join(record, "argv.json"), "w") as out:
    json.dump({"argv": argv, "shares": shares, "deathsig": deathsig.value, "stdin": stdin}, out)
ctl = shares["ctl"]["path"]
for name in ("setup.sh", "cmd.sh"):
    shutil.copy(os.path.join(ctl, name), record)
mode = os.environ.get("FAKE_QEMU_MODE", "guest")
accel = argv[argv.index("-accel") + 1]
with open(os.path.join(record, "accels"), "a") as accels:
    accels.write(accel + "\\n")
if mode == "hang-under-kvm":  # as a stock kernel under a paravirtual /dev/kvm
    mode = "hang" if accel == "kvm" else "guest"
if mode == "hang-under-kvm-slow-tcg":  # and TCG takes longer to boot than KVM is given
    mode = "hang" if accel == "kvm" else "slow-guest"
out = sys.stdout.buffer
out.write(b"[    0.000000] Linux version 6.1.0\\r\\n")
out.flush()
if mode == "slow-guest":
    time.sleep(1.5)
    mode = "guest"
if mode == "guest":
    open(os.path.join(ctl, "booted"), "w").close()  # as the init does once the control share is mounted
    done = subprocess.run(["sh", os.path.join(ctl, "cmd.sh")], input=b"typed at the console\\n")
    with open(os.path.join(ctl, "status"), "w") as status:
        status.write(f"{done.returncode}\\n")
elif mode == "panic":
    for n in range(100):
        out.write(b"console line %d\\r\\n" % n)
    out.write(b"a line ending in spaces  \\r\\na line ending in X\\r\\n")
    out.write(b"Kernel panic - not syncing: \\xff\\xfe\\r\\n")
elif mode == "error":
    sys.stderr.write("qemu-system-x86_64: -device virtio-9p-pci: 'virtio-9p-pci' is not a valid device model name\\n")
    sys.exit(1)
elif mode == "hang":  # long enough for any timeout given here, short if nothing kills it
    time.sleep(10)
"""


@pytest.fixture(scope="module")
def kernel_and_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, vm.Image]:
    """A kernel tree and a cache holding its boot files, built once for this module."""
    where = tmp_path_factory.mktemp("vm")
    tree = kernel_tree(where / "tree")
    saved = os.environ.get(vm.KERNEL_ENV)
    os.environ[vm.KERNEL_ENV] = str(tree)
    try:
        image = vm.prepare(where / "xdg" / "krafty" / "vm")
    finally:
        os.environ.pop(vm.KERNEL_ENV)
        if saved is not None:
            os.environ[vm.KERNEL_ENV] = saved
    return tree, where / "xdg", image


def qemu_options(text: str) -> list[str]:
    """QEMU's option syntax: fields split on ",", where ",," is a literal comma."""
    return [field.replace("\0", ",") for field in text.replace(",,", "\0").split(",")]


def modprobe_line(*modules: str) -> list[str]:
    """The setup line loading the modules; what modprobe says on failure goes to a file the command reads."""
    errors = "$r/run/krafty-modprobe.err"
    return ["chroot", "$r", "modprobe", "-a", *modules, f"2>{errors}", "||", "cat", errors]


class Qemu:
    """The stand-in's settings and what it recorded."""

    def __init__(self, record: Path, monkeypatch: pytest.MonkeyPatch, image: vm.Image):
        self.record, self.monkeypatch, self.image = record, monkeypatch, image

    def mode(self, mode: str) -> None:
        self.monkeypatch.setenv("FAKE_QEMU_MODE", mode)

    @property
    def argv(self) -> list[str]:
        return json.loads((self.record / "argv.json").read_text())["argv"]

    @property
    def recorded(self) -> dict:
        return json.loads((self.record / "argv.json").read_text())

    @property
    def shares(self) -> dict[str, dict[str, str]]:
        return json.loads((self.record / "argv.json").read_text())["shares"]

    def flag(self, name: str) -> str:
        return self.argv[self.argv.index(name) + 1]

    @property
    def setup(self) -> list[list[str]]:
        return [shlex.split(line) for line in (self.record / "setup.sh").read_text().splitlines()]


@pytest.fixture
def qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_and_cache) -> Qemu:
    tree, xdg, image = kernel_and_cache
    bin_dir = tmp_path / "qemu-bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "qemu-system-x86_64"
    stand_in.write_text(f"#!{sys.executable}\n{FAKE_QEMU}")
    stand_in.chmod(0o755)
    record = tmp_path / "qemu-record"
    record.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QEMU_RECORD", str(record))
    monkeypatch.setenv(vm.KERNEL_ENV, str(tree))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setattr(vm, "accelerator", lambda: ("tcg", "as told"))
    monkeypatch.setattr(vm, "python_trees", lambda: [])  # a test that wants disks gives its own trees
    return Qemu(record, monkeypatch, image)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "a dir, with 'quotes' and $HOME"
    path.mkdir()
    return path


def test_the_command_runs_in_cwd_with_exactly_the_given_environment_and_its_status_comes_back(qemu: Qemu, work: Path):
    script = 'pwd >out; env >env; cat >stdin; printf "%s\\n" "$@" >args; exit 7'
    argv = ["sh", "-c", script, "sh", "two words", "it's", "$HOME", "*"]
    env = {"PATH": "/usr/bin:/bin", "SPACED": "a b", "QUOTED": "it's $HOME"}
    status = vm.run(argv, cwd=work, env=env, console=io.StringIO())
    assert status == 7
    assert (work / "out").read_text() == f"{work}\n"
    seen = dict(line.split("=", 1) for line in (work / "env").read_text().splitlines())
    seen.pop("PWD", None)  # sh's own
    assert seen == env
    assert (work / "args").read_text().splitlines() == ["two words", "it's", "$HOME", "*"]
    assert (work / "stdin").read_text() == "", "the command does not read the console"


def test_the_console_says_how_long_the_boot_and_the_command_took(qemu: Qemu, work: Path):
    console = io.StringIO()
    assert vm.run(["sleep", "2"], cwd=work, console=console) == 0
    took = [line for line in console.getvalue().splitlines() if line.startswith("krafty.testing.vm: booted in ")]
    assert took == ["krafty.testing.vm: booted in 0 s; the command took 2 s"]


def test_the_environment_defaults_to_this_processes_and_path_to_roots_directories(
    qemu: Qemu, work: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KRAFTY_MARK", "from the caller")
    assert vm.run(["sh", "-c", "env >env"], cwd=work, console=io.StringIO()) == 0
    seen = dict(line.split("=", 1) for line in (work / "env").read_text().splitlines())
    assert seen["KRAFTY_MARK"] == "from the caller" and seen["PATH"] == os.environ["PATH"]
    assert vm.run(["sh", "-c", "env >env"], cwd=work, env={"A": "1"}, console=io.StringIO()) == 0
    seen = dict(line.split("=", 1) for line in (work / "env").read_text().splitlines())
    assert {"/usr/sbin", "/sbin", "/usr/bin", "/bin"} <= set(seen["PATH"].split(":")), seen
    assert seen["A"] == "1" and "KRAFTY_MARK" not in seen


def test_qemu_boots_the_prepared_kernel_and_initramfs_with_the_memory_and_cpus_asked(qemu: Qemu, work: Path):
    assert vm.run(["true"], cwd=work, memory_mb=640, console=io.StringIO()) == 0
    assert qemu.flag("-kernel") == str(qemu.image.kernel)
    assert qemu.flag("-initrd") == str(qemu.image.initrd)
    assert qemu.flag("-m") == "640"
    assert qemu.flag("-smp") == str(os.cpu_count())
    assert vm.run(["true"], cwd=work, console=io.StringIO()) == 0
    assert qemu.flag("-m") == "2048", "run's documented default"


def test_the_host_root_is_shared_read_only_and_each_rw_dir_read_write_at_its_own_path(
    qemu: Qemu, tmp_path: Path, work: Path
):
    outer = tmp_path / "results"
    inner = outer / "deeper, with a comma"
    inner.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(outer)
    vm.run(["true"], cwd=work, rw_dirs=[inner, link, outer], console=io.StringIO())
    shares = qemu.shares
    assert shares["hostroot"]["path"] == "/" and shares["hostroot"]["readonly"] == "on"
    rw = {tag: s for tag, s in shares.items() if tag not in ("hostroot", "ctl")}
    assert sorted(s["path"] for s in rw.values()) == [str(outer), str(inner)], "one share per real directory"
    assert all("readonly" not in s and s["security_model"] == "none" for s in rw.values())
    devices = [qemu.argv[i + 1] for i, a in enumerate(qemu.argv) if a == "-device"]
    for tag in shares:
        assert f"virtio-9p-pci,fsdev={tag},mount_tag={tag}" in devices
    mounts = [line for line in qemu.setup if line[:3] == ["mount", "-t", "9p"]]
    targets = {line[-2]: line[-1] for line in mounts}
    assert targets == {tag: f"/newroot{s['path']}" for tag, s in rw.items()}, "the same path in the guest"
    assert all("trans=virtio" in line[4] and ",ro" not in line[4] for line in mounts)
    order = [line[-1] for line in mounts]
    assert order.index(f"/newroot{outer}") < order.index(f"/newroot{inner}"), "a parent before what it holds"
    for target in order:
        made = qemu.setup.index(["mkdir", "-p", target])
        assert made < next(i for i, line in enumerate(qemu.setup) if line[-1:] == [target] and line[0] == "mount")


def test_the_python_trees_go_in_as_read_only_disks_mounted_over_their_own_paths(
    qemu: Qemu, tmp_path: Path, work: Path, monkeypatch
):
    trees = [tmp_path / "stdlib", tmp_path / "venv, with a comma"]
    for tree in trees:
        tree.mkdir()
        (tree / "mod.py").write_text(f"WHERE = {tree.name!r}\n")
    monkeypatch.setattr(vm, "python_trees", lambda: trees)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache,comma"))  # where the images go
    vm.run(["true"], cwd=work, console=io.StringIO())
    drives = [qemu_options(qemu.argv[i + 1]) for i, flag in enumerate(qemu.argv) if flag == "-drive"]
    assert [d[1:] for d in drives] == [["format=raw", "if=virtio", "readonly=on"]] * 2
    for tree, drive in zip(trees, drives, strict=True):  # in order: the first is /dev/vda
        image = drive[0].removeprefix("file=")
        read = subprocess.run(["debugfs", "-R", "cat /mod.py", image], capture_output=True, text=True, check=True)
        assert read.stdout == f"WHERE = {tree.name!r}\n"
    for i, (tree, disk) in enumerate(zip(trees, ["/dev/vda", "/dev/vdb"], strict=True)):
        mount = qemu.setup.index(
            [
                "mkdir",
                "-p",
                f"/tree{i}",
                f"/rw/tree{i}/upper",
                f"/rw/tree{i}/work",
                "&&",
                "mount",
                "-t",
                "ext2",
                "-o",
                "ro",
                disk,
                f"/tree{i}",
                "&&",
                "mount",
                "-t",
                "overlay",
                "-o",
                f"lowerdir=/tree{i},upperdir=/rw/tree{i}/upper,workdir=/rw/tree{i}/work",
                "overlay",
                f"/newroot{tree}",
                "||",
                "echo",
                f"krafty.testing.vm: {tree} is read over 9p: its disk did not mount",
            ]
        )
        assert mount >= 0  # fmt: skip


def test_a_tree_without_an_image_is_read_over_9p_and_the_console_says_why(
    qemu: Qemu, tmp_path: Path, work: Path, monkeypatch
):
    missing = tmp_path / "gone"
    monkeypatch.setattr(vm, "python_trees", lambda: [missing])
    console = io.StringIO()
    assert vm.run(["true"], cwd=work, console=console) == 0
    assert "-drive" not in qemu.argv
    assert not [line for line in qemu.setup if "ext2" in line]
    assert f"krafty.testing.vm: {missing} is read over 9p: mke2fs -d {missing}: " in console.getvalue()


def test_the_kernels_modules_appear_at_lib_modules_and_the_asked_modules_load_before_the_command(
    qemu: Qemu, work: Path
):
    vm.run(["true"], cwd=work, modules=["vrf", "ipvlan"], console=io.StringIO())
    setup = qemu.setup
    guest_modules = os.path.realpath(f"/lib/modules/{KVER}")  # the guest's root is this root
    bind = setup.index(["mount", "-o", "bind", f"/newroot{qemu.image.modules_dir}", f"/newroot{guest_modules}"])
    assert setup.index(["mkdir", "-p", f"/newroot{guest_modules}"]) < bind
    helper = setup.index(["echo", "/sbin/modprobe-chroot", ">/proc/sys/kernel/modprobe"])
    load = setup.index(modprobe_line("vrf", "ipvlan"))
    assert bind < load and helper < load
    vm.run(["true"], cwd=work, modules=(), console=io.StringIO())
    assert not [line for line in qemu.setup if "modprobe" in line or "chroot" in line]
    vm.run(["true"], cwd=work, console=io.StringIO())
    assert modprobe_line("vrf", "bridge", "veth", "dummy") in qemu.setup


def test_a_vm_that_stops_without_a_status_is_vm_died_with_the_consoles_last_lines(qemu: Qemu, work: Path):
    qemu.mode("panic")
    console = io.StringIO()
    with pytest.raises(vm.VmDied) as raised:
        vm.run(["true"], cwd=work, console=console)
    shown = console.getvalue().splitlines()
    assert shown[:2] == ["krafty.testing.vm: tcg (as told)", "[    0.000000] Linux version 6.1.0"]
    assert "console line 99" in shown
    assert shown[-1] == "Kernel panic - not syncing: \ufffd\ufffd", "undecodable bytes do not stop the copy"
    assert shown[-3:-1] == ["a line ending in spaces  ", "a line ending in X"], "only the line ends go"
    assert "\r" not in console.getvalue()
    message = str(raised.value).splitlines()
    assert message[0] == "the VM stopped without writing the command's exit status"
    assert message[1] == "last console lines:" and message[-1] == shown[-1]
    assert message[-4] == "console line 99" and "console line 0" not in message, "the tail, not everything"


def test_the_control_directory_goes_away_after_the_run(qemu: Qemu, work: Path):
    vm.run(["true"], cwd=work, console=io.StringIO())
    ctl = Path(qemu.shares["ctl"]["path"])
    assert ctl.name.startswith("krafty-vm-") and not ctl.exists()
    qemu.mode("panic")
    with pytest.raises(vm.VmDied):
        vm.run(["true"], cwd=work, console=io.StringIO())
    assert not Path(qemu.shares["ctl"]["path"]).exists()


def test_a_qemu_error_is_vm_died_with_qemus_message(qemu: Qemu, work: Path):
    qemu.mode("error")
    with pytest.raises(vm.VmDied) as raised:
        vm.run(["true"], cwd=work, console=io.StringIO())
    assert str(raised.value).endswith("'virtio-9p-pci' is not a valid device model name")


def test_qemu_gets_no_terminal_input_and_dies_with_its_caller(qemu: Qemu, work: Path):
    """The console's input is not the caller's stdin; a caller killed with SIGKILL takes QEMU with it."""
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)  # this process's stdin is not /dev/null: QEMU must not get it
    try:
        vm.run(["true"], cwd=work, console=io.StringIO())
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert qemu.recorded["stdin"] == "/dev/null"
    assert qemu.recorded["deathsig"] == signal.SIGKILL


def test_a_vm_past_its_timeout_is_killed_and_reported_as_timed_out(qemu: Qemu, work: Path):
    qemu.mode("hang")
    procs: list[subprocess.Popen] = []
    with pytest.raises(vm.VmDied) as raised:
        vm.run(["true"], cwd=work, timeout=0.5, console=io.StringIO(), started=procs.append)
    assert str(raised.value).startswith("the VM timed out after 0.5 s and was killed\nlast console lines:\n")
    assert str(raised.value).endswith("Linux version 6.1.0")
    assert procs[0].returncode == -signal.SIGKILL


def test_started_gets_the_running_qemu_whose_end_is_a_vm_died(qemu: Qemu, work: Path):
    qemu.mode("hang")
    seen = []

    def started(proc: subprocess.Popen) -> None:
        seen.append((proc.poll(), proc.args[0]))
        proc.terminate()  # what the relay does when its pytest is interrupted

    with pytest.raises(vm.VmDied, match=r"^the VM stopped without writing"):
        vm.run(["true"], cwd=work, console=io.StringIO(), started=started)
    assert seen == [(None, "qemu-system-x86_64")]


def test_the_console_defaults_to_stderr(qemu: Qemu, work: Path, capsys: pytest.CaptureFixture):
    vm.run(["true"], cwd=work)
    assert capsys.readouterr().err == (
        "krafty.testing.vm: tcg (as told)\n[    0.000000] Linux version 6.1.0\n"
        "krafty.testing.vm: booted in 0 s; the command took 0 s\n"
    )


@pytest.mark.parametrize("bad", ["relative", "missing", "file"])
@pytest.mark.parametrize("where", ["cwd", "rw_dirs"])
def test_cwd_and_rw_dirs_must_be_existing_absolute_directories(qemu: Qemu, tmp_path: Path, bad: str, where: str):
    path = {"relative": Path("tmp"), "missing": tmp_path / "missing", "file": tmp_path / "file"}[bad]
    (tmp_path / "file").touch()
    kw = {"cwd": path} if where == "cwd" else {"cwd": tmp_path, "rw_dirs": [tmp_path, path]}
    with pytest.raises(NotADirectoryError, match=f"^not an existing absolute directory: {path}$"):
        vm.run(["true"], console=io.StringIO(), **kw)
    assert not (qemu.record / "argv.json").exists(), "no VM was started"


def test_the_qemu_child_dies_with_the_thread_that_started_it():
    """PR_SET_PDEATHSIG: a caller killed with SIGKILL runs no cleanup, so the kernel must end QEMU."""
    procs: list[subprocess.Popen] = []
    starter = threading.Thread(
        target=lambda: procs.append(subprocess.Popen(["sleep", "60"], preexec_fn=vm._die_with_parent))
    )
    starter.start()
    starter.join()
    try:
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
    finally:
        procs[0].kill()


def test_the_child_side_sets_sigkill_as_the_parent_death_signal():
    """The same promise read back with PR_GET_PDEATHSIG, in a thread of its own (the setting dies with it)."""
    got = ctypes.c_int(-1)

    def child_side() -> None:
        vm._die_with_parent()
        ctypes.CDLL(None).prctl(2, ctypes.byref(got))  # PR_GET_PDEATHSIG

    thread = threading.Thread(target=child_side)
    thread.start()
    thread.join()
    assert got.value == signal.SIGKILL


# --- python -m krafty.testing.vm --------------------------------------------------------------------


def test_main_runs_the_command_after_the_double_dash_and_exits_with_its_status(
    qemu: Qemu, work: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(work)
    assert vm.main(["--", "sh", "-c", "pwd >out; exit 3", "--", "x"]) == 3
    assert (work / "out").read_text() == f"{work}\n", "the current directory by default"
    assert modprobe_line("vrf", "bridge", "veth", "dummy") in qemu.setup
    assert qemu.flag("-m") == "2048"


def test_main_passes_cwd_rw_dirs_timeout_and_modules(
    qemu: Qemu, tmp_path: Path, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.chdir(tmp_path)
    args = ["--cwd", work.name, "--rw", str(work), "--module", "ipvlan", "--module", "8021q", "--", "pwd"]
    assert vm.main(args) == 0
    assert modprobe_line("ipvlan", "8021q") in qemu.setup
    assert [s["path"] for t, s in qemu.shares.items() if t not in ("hostroot", "ctl")] == [str(work)]
    assert shlex.split((qemu.record / "cmd.sh").read_text().splitlines()[1])[:2] == ["cd", "--"]
    assert str(work) in shlex.split((qemu.record / "cmd.sh").read_text())
    qemu.mode("hang")
    assert vm.main(["--timeout", "0.3", "--", "true"]) == 125
    assert capsys.readouterr().err.endswith("krafty.testing.vm: the VM timed out after 0.3 s and was killed\n")


def test_main_reports_a_dead_vm_in_one_line_and_exits_125(
    qemu: Qemu, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    monkeypatch.chdir(work)
    qemu.mode("panic")
    assert vm.main(["--", "true"]) == 125
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "krafty.testing.vm: the VM stopped without writing the command's exit status"
    assert "console line 99" in err, "the console itself was shown as it came"


def test_main_reports_no_kernel_in_one_line_and_exits_125(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(vm.KERNEL_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert vm.main(["--prepare"]) == 125
    assert vm.main(["--", "true"]) == 125
    line = f"krafty.testing.vm: {vm.KERNEL_ENV}={tmp_path / 'empty'} holds no single boot/vmlinuz-<kver>"
    assert capsys.readouterr().err == 2 * f"{line} with lib/modules/<kver>/\n"


def test_main_prepare_prints_the_boot_files(qemu: Qemu, capsys: pytest.CaptureFixture):
    assert vm.main(["--prepare"]) == 0
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    image = qemu.image
    assert printed == {
        "kernel": str(image.kernel),
        "initrd": str(image.initrd),
        "kver": KVER,
        "modules_dir": str(image.modules_dir),
    }
    assert not (qemu.record / "argv.json").exists(), "nothing booted"


def test_main_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exited:
        vm.main(["--rw", "/tmp"])
    assert exited.value.code == 2
    assert "error: no command given after --" in capsys.readouterr().err


# --- the accelerator: KVM where it really works ----------------------------------------------------


def test_a_kvm_guest_that_does_not_boot_in_time_is_run_again_under_tcg(qemu: Qemu, work: Path, monkeypatch):
    """/dev/kvm of a paravirtual hypervisor: a stock kernel hangs under it, and the run must not."""
    monkeypatch.setattr(vm, "accelerator", lambda: ("kvm", ""))
    monkeypatch.setattr(vm, "BOOT_DEADLINE", 1.0)
    qemu.mode("hang-under-kvm")
    console = io.StringIO()
    started: list[subprocess.Popen] = []
    assert vm.run(["sh", "-c", "exit 7"], cwd=work, console=console, started=started.append) == 7  # else VmDied
    assert (qemu.record / "accels").read_text().split() == ["kvm", "tcg"]
    shown = console.getvalue().splitlines()
    assert shown[0] == "krafty.testing.vm: kvm"
    assert "krafty.testing.vm: the KVM guest did not boot in 1 s: TCG then" in shown
    assert shown.count("[    0.000000] Linux version 6.1.0") == 2, "the TCG guest's console is shown too"
    assert len(started) == 2 and started[0] is not started[1], "the caller can stop the second QEMU too"


def test_a_tcg_guest_may_take_longer_to_boot_than_a_kvm_guest_is_given(qemu: Qemu, work: Path, monkeypatch):
    monkeypatch.setattr(vm, "accelerator", lambda: ("kvm", ""))
    monkeypatch.setattr(vm, "BOOT_DEADLINE", 1.0)
    qemu.mode("hang-under-kvm-slow-tcg")
    assert vm.run(["sh", "-c", "exit 7"], cwd=work, console=io.StringIO()) == 7


def test_a_kvm_guest_that_boots_is_not_run_again(qemu: Qemu, work: Path, monkeypatch):
    """Not even when its command runs past the boot deadline: that deadline is for the boot."""
    monkeypatch.setattr(vm, "accelerator", lambda: ("kvm", ""))
    monkeypatch.setattr(vm, "BOOT_DEADLINE", 0.5)
    assert vm.run(["sleep", "1"], cwd=work) == 0
    assert (qemu.record / "accels").read_text().split() == ["kvm"]
    assert qemu.flag("-cpu") == "host"


def test_tcg_emulates_the_newest_cpu(qemu: Qemu, work: Path):
    assert vm.run(["true"], cwd=work) == 0
    assert (qemu.flag("-accel"), qemu.flag("-cpu")) == ("tcg", "max")


@pytest.mark.parametrize(
    ("device", "flags", "expected"),
    [
        (True, "fpu vme vmx sse", ("kvm", "")),
        (True, "fpu svm sse", ("kvm", "")),
        (True, "fpu sse hypervisor", ("tcg", "{kvm} but no vmx or svm in {cpuinfo}")),
        (False, "fpu vmx", ("tcg", "no usable {kvm}")),
    ],
)
def test_kvm_is_tried_only_with_a_usable_device_and_hardware_virtualisation(tmp_path, device, flags, expected):
    kvm, cpuinfo = tmp_path / "kvm", tmp_path / "cpuinfo"
    if device:
        kvm.touch()
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\nbugs\t\t: spectre_v1\n")
    accel, why = vm.accelerator(str(kvm), str(cpuinfo))
    assert (accel, why) == (expected[0], expected[1].format(kvm=kvm, cpuinfo=cpuinfo))


def test_a_cpuinfo_without_flags_means_tcg(tmp_path):
    kvm, cpuinfo = tmp_path / "kvm", tmp_path / "cpuinfo"
    kvm.touch()
    cpuinfo.write_text("processor\t: 0\nmodel name\t: QEMU Virtual CPU\n")
    assert vm.accelerator(str(kvm), str(cpuinfo)) == ("tcg", f"{kvm} but no vmx or svm in {cpuinfo}")


def test_by_default_kvm_is_judged_from_this_machines_dev_kvm_and_proc_cpuinfo():
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    hardware = re.search(r"^flags\s*:.*\b(vmx|svm)\b", Path("/proc/cpuinfo").read_text(), re.M)
    if not usable:
        expected = ("tcg", "no usable /dev/kvm")
    elif not hardware:
        expected = ("tcg", "/dev/kvm but no vmx or svm in /proc/cpuinfo")
    else:
        expected = ("kvm", "")
    assert vm.accelerator() == expected


def test_main_quiet_shows_the_consoles_tail_when_the_vm_dies(qemu: Qemu, work: Path, capsys: pytest.CaptureFixture):
    """--quiet hid the kernel's lines: a dead VM's last ones are the only clue to why."""
    qemu.mode("panic")
    assert vm.main(["--quiet", "--cwd", str(work), "--", "true"]) == 125
    said = capsys.readouterr().err.partition("krafty.testing.vm: the VM stopped without writing")[2]
    assert said.startswith(" the command's exit status\nlast console lines:\n"), said
    assert "\nKernel panic - not syncing: " in said


def test_main_quiet_shows_the_commands_lines_only(qemu: Qemu, work: Path, capsys: pytest.CaptureFixture):
    """What `make demo` shows in the VM: the demo's lines, no kernel line, no note of the VM's."""
    assert vm.main(["--quiet", "--cwd", str(work), "--", "sh", "-c", "echo mine"]) == 0
    assert capsys.readouterr().err == "mine\n"
    assert vm.main(["--cwd", str(work), "--", "sh", "-c", "echo mine"]) == 0
    assert capsys.readouterr().err == (
        "krafty.testing.vm: tcg (as told)\n[    0.000000] Linux version 6.1.0\nmine\n"
        "krafty.testing.vm: booted in 0 s; the command took 0 s\n"
    )
