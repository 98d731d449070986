"""The harness works outside this repository: the README's example file, copied to an empty
directory, run by pytest with nothing but the installed package (the `krafty` entry point).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "test_bridge_plugin.py"


def netns_list(tag: str) -> set[str]:
    """The namespaces whose names carry `tag` (others belong to other tests under pytest -n)."""
    return {p.name for p in Path("/run/netns").glob(f"*-{tag}-*")}


def test_the_readme_example_runs_from_an_empty_directory_and_leaves_nothing(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    tag, host_links = f"outside{os.getpid()}", set(os.listdir("/sys/class/net"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / 'tmp'}", "."],
        cwd=tmp_path,
        env={**os.environ, "PYTEST_XDIST_WORKER": tag},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout, run.stdout
    assert "conftest" not in run.stdout
    assert netns_list(tag) == set(), "the example left namespaces behind"
    assert set(os.listdir("/sys/class/net")) == host_links, "the host's own devices changed"


def test_the_plugin_can_be_turned_off(tmp_path):
    shutil.copy(EXAMPLE, tmp_path)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--basetemp={tmp_path / 'tmp'}",
            "-p",
            "no:krafty",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 1
    assert "fixture 'cni_runtime' not found" in run.stdout
