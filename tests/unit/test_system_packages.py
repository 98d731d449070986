"""scripts/system-packages: installs only the Debian packages that are missing, or says which.

Run against stand-in dpkg-query, id and apt-get: dpkg-query reports every package it is asked
about as installed but those in $ABSENT, apt-get records its arguments.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).parents[2] / "scripts" / "system-packages"
# The packages a fresh Debian machine lacks that the VM (docs/testing.md) and host-local need.
NEEDED = {"containernetworking-plugins", "qemu-system-x86", "busybox-static", "kmod", "cpio", "iputils-ping"}


def stand_in(bin_dir: Path, name: str, script: str) -> None:
    (bin_dir / name).write_text("#!/bin/sh\n" + script)
    (bin_dir / name).chmod(0o755)


@pytest.fixture
def tools(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in(
        bin_dir,
        "dpkg-query",
        'shift 2\nfor p in "$@"; do case " $ABSENT " in *" $p "*) ;; *) echo "$p installed";; esac; done\n',
    )
    stand_in(bin_dir, "id", 'echo "$FAKE_UID"\n')
    stand_in(bin_dir, "apt-get", f'echo "$*" >> {tmp_path}/apt.log\n')
    return tmp_path


def run(tools: Path, absent: str, uid: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{tools}/bin:/usr/bin:/bin", "ABSENT": absent, "FAKE_UID": str(uid)}
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, check=False)


def apt_calls(tools: Path) -> list[str]:
    log = tools / "apt.log"
    return log.read_text().splitlines() if log.exists() else []


def test_nothing_missing_costs_one_query_and_says_nothing(tools):
    done = run(tools, absent="")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert apt_calls(tools) == []


def test_only_the_missing_packages_are_installed(tools):
    done = run(tools, absent="qemu-system-x86 zstd")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "system-packages: installing qemu-system-x86 zstd\n"
    assert apt_calls(tools) == ["update -qq", "install -y -qq --no-install-recommends qemu-system-x86 zstd"]


def test_without_root_it_names_what_is_missing_in_one_line_and_installs_nothing(tools):
    done = run(tools, absent="kmod cpio", uid=1000)
    assert done.returncode == 1
    assert done.stderr == "system-packages: missing kmod cpio: as root, apt-get install kmod cpio\n"
    assert apt_calls(tools) == []


def test_it_asks_for_every_package_a_fresh_machine_lacks(tools):
    """What a fresh Debian 12 machine lacked for the README's commands."""
    done = run(tools, absent=" ".join(sorted(NEEDED)))
    installed = apt_calls(tools)[-1].split()[4:]
    assert done.returncode == 0 and set(installed) == NEEDED
