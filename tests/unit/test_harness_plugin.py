"""Loading krafty's pytest plugin is cheap and inert in a suite that does not use it."""

from __future__ import annotations

import subprocess
import sys


def test_loading_the_plugin_imports_no_pyroute2_and_registers_no_autouse_fixture(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\ndef test_plain(request):\n"
        "    assert 'pyroute2' not in sys.modules\n"
        "    assert 'krafty.testing.plugin' in sys.modules\n"
        "    assert not [f for f in request.fixturenames if f.startswith('cni_')]\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--basetemp={tmp_path / 'inner'}",
            "test_plain.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_docs_example_is_the_file_that_runs_in_ci():
    """The harness manual shows examples/test_bridge_plugin.py whole, and the README's taste is
    lines of it, in order: the netns layer runs that file, so neither can drift from a test."""
    import re
    from pathlib import Path

    root = Path(__file__).parents[2]
    example = (root / "examples" / "test_bridge_plugin.py").read_text()
    assert f"```python\n{example}```\n" in (root / "docs" / "harness" / "README.md").read_text()
    readme = (root / "README.md").read_text()
    tastes = re.findall(r"```python\n(.*?)```\n", readme, re.S)
    assert len(tastes) == 1
    assert tastes[0] in example, "the README's taste is not a verbatim run of lines of the example"
