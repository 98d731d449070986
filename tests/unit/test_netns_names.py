"""Namespace names (`cni-<role>-<xdist worker>-<random>`, unique across workers and runs) and
what `Netns.remove` makes of `ip netns delete`'s answer, with a stand-in `ip` (no root)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from krafty.testing.netns import Netns, NetnsError, unique_name


def test_a_name_says_role_and_worker_and_ends_in_eight_random_hex_digits(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert re.fullmatch(r"cni-node-gw3-[0-9a-f]{8}", unique_name("node"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert re.fullmatch(r"cni-pod-main-[0-9a-f]{8}", unique_name("pod"))


def test_names_do_not_repeat():
    assert len({unique_name("pod") for _ in range(100)}) == 100


def _standin_ip(bin_dir: Path, status: int, monkeypatch) -> Path:
    """An `ip` first on PATH that logs its arguments, says `busy` on stderr and exits with `status`."""
    log = bin_dir / "calls"
    ip = bin_dir / "ip"
    ip.write_text(f'#!/bin/sh\necho "$*" >> {log}\necho "  busy  " >&2\nexit {status}\n')
    ip.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def _namespace_at(path: Path) -> Netns:
    """A Netns this test owns, without root: `from_path` with the ownership a made one has."""
    ns = Netns.from_path(path)
    ns.removed = False
    return ns


def test_a_delete_that_fails_while_the_namespace_is_still_there_is_an_error(tmp_path, monkeypatch):
    log = _standin_ip(tmp_path, 1, monkeypatch)
    (tmp_path / "cni-pod-x").touch()  # still there after the failed delete
    ns = _namespace_at(tmp_path / "cni-pod-x")
    with pytest.raises(NetnsError) as failed:
        ns.remove()
    assert str(failed.value) == "ip netns delete cni-pod-x: busy"
    assert not ns.removed  # the caller may try again
    assert log.read_text() == "netns delete cni-pod-x\n"


def test_a_delete_that_fails_because_the_namespace_is_gone_is_not(tmp_path, monkeypatch):
    log = _standin_ip(tmp_path, 1, monkeypatch)
    ns = _namespace_at(tmp_path / "cni-pod-gone")
    ns.remove()
    assert ns.removed
    assert log.read_text() == "netns delete cni-pod-gone\n"


def test_a_removed_namespace_is_deleted_once(tmp_path, monkeypatch):
    log = _standin_ip(tmp_path, 0, monkeypatch)
    ns = _namespace_at(tmp_path / "cni-pod-y")
    ns.remove()
    ns.remove()
    assert log.read_text() == "netns delete cni-pod-y\n"
