"""Namespace names: `cni-<role>-<xdist worker>-<random>`, unique across workers and runs (no root)."""

from __future__ import annotations

import re

from krafty.testing.netns import unique_name


def test_a_name_says_role_and_worker_and_ends_in_eight_random_hex_digits(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert re.fullmatch(r"cni-node-gw3-[0-9a-f]{8}", unique_name("node"))
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert re.fullmatch(r"cni-pod-main-[0-9a-f]{8}", unique_name("pod"))


def test_names_do_not_repeat():
    assert len({unique_name("pod") for _ in range(100)}) == 100
