"""krafty.testing.vm on a host where it finds no kernel to boot: one line saying what to do, no traceback.

On a non-Debian host (GitHub's Ubuntu runners, say) without a kernel feature's module, the
netns layer falls back to the VM, whose kernel lookup only Debian's apt answers. What the user
must read there is what is missing and the two ways out: the distribution's module, or a
kernel given in KRAFTY_VM_KERNEL. The message names no feature (VRF, say) it was not asked about.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from krafty.testing import vm

UBUNTU_MODULE = "sudo apt-get install linux-modules-extra-$(uname -r)"


def vm_py(tmp_path: Path, path: Path, **env: str) -> subprocess.CompletedProcess:
    """`python -m krafty.testing.vm -- true` with only `path` on PATH and a cache of its own."""
    return subprocess.run(
        [sys.executable, "-m", "krafty.testing.vm", "--", "true"],
        cwd=tmp_path,
        env={"PATH": str(path), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line(proc: subprocess.CompletedProcess, *expected: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 125 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for text in expected:
        assert text in lines[0], f"{text!r} missing from: {lines[0]}"


def stand_in(bin_dir: Path, name: str, script: str = "") -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{script}")
    (bin_dir / name).chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """Every tool the VM needs but apt (and /bin/busybox, which is this machine's own)."""
    path = tmp_path / "bin"
    path.mkdir()
    for tool in ("qemu-system-x86_64", "depmod", "modprobe"):
        stand_in(path, tool)
    return path


def test_missing_tools_are_named_with_their_packages_before_anything_is_downloaded(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for tool in ("apt-cache", "apt-get"):
        stand_in(empty, tool, f'echo "$0 $*" >> {tmp_path}/apt.log\n')
    proc = vm_py(tmp_path, empty)
    missing = "missing qemu-system-x86_64, depmod, modprobe: install qemu-system-x86 kmod"
    assert_one_line(proc, f"krafty.testing.vm: {missing}")
    assert not (tmp_path / "apt.log").exists(), "apt was asked before the tools were checked"
    assert list((tmp_path / "cache").rglob("*.deb")) == []


def test_prepare_raises_missing_tools_naming_them(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # none of the tools on it
    missing = "missing qemu-system-x86_64, depmod, modprobe: install qemu-system-x86 kmod"
    with pytest.raises(vm.MissingTools, match=f"^{missing}$"):
        vm.prepare(tmp_path / "cache")


def test_no_apt_cache_says_to_install_the_module_or_give_a_kernel(tmp_path: Path, bin_dir: Path):
    proc = vm_py(tmp_path, bin_dir)
    assert_one_line(proc, "krafty.testing.vm: ", "no apt-cache", UBUNTU_MODULE, "KRAFTY_VM_KERNEL")
    assert "vrf" not in proc.stderr.lower(), proc.stderr


def test_apt_without_debian_kernel_says_so_with_apts_answer(tmp_path: Path, bin_dir: Path):
    # What Ubuntu's apt-cache answers for Debian's metapackage name.
    apt_cache = bin_dir / "apt-cache"
    apt_cache.write_text("#!/bin/sh\necho 'E: No packages found' >&2\nexit 100\n")
    apt_cache.chmod(0o755)
    proc = vm_py(tmp_path, bin_dir)
    assert_one_line(proc, "apt-cache depends linux-image-amd64", "E: No packages found", UBUNTU_MODULE)


def test_a_given_kernel_without_vmlinuz_is_named(tmp_path: Path, bin_dir: Path):
    (tmp_path / "kernel" / "lib" / "modules" / "6.1.0-57-amd64").mkdir(parents=True)
    proc = vm_py(tmp_path, bin_dir, KRAFTY_VM_KERNEL=str(tmp_path / "kernel"))
    assert_one_line(proc, f"KRAFTY_VM_KERNEL={tmp_path / 'kernel'}", "boot/vmlinuz-<kver>")


def test_the_netns_relay_gets_the_same_single_line(tmp_path: Path, bin_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """krafty.testing.kernel.VmRelay reports `the VM failed: {err}`: err must be that one line."""
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KRAFTY_VM_KERNEL", raising=False)
    from krafty.testing import vm

    with pytest.raises(Exception) as raised:  # whatever its type, the relay prints str(err)
        vm.run(["true"], cwd=tmp_path)
    message = str(raised.value)
    assert "\n" not in message and UBUNTU_MODULE in message, message
