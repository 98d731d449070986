"""A pytest of its own, in a scratch directory: how the harness's tests see what a user's run shows."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def run_pytest(
    directory: Path, source: str, *args: str, conftest: str = "", name: str = "test_it.py", **env: str
) -> subprocess.CompletedProcess[str]:
    """`source` (dedented) as `name` and `conftest`, if any, in `directory`, run by a new pytest
    there: no cache, tmp dirs under `directory`, this environment with `env` on top."""
    (directory / name).write_text(textwrap.dedent(source))
    if conftest:
        (directory / "conftest.py").write_text(textwrap.dedent(conftest))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={directory / 'tmp'}", *args, name]
    return subprocess.run(
        argv, cwd=directory, env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )
