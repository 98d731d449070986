"""Where a cni_kernel test cannot run: one reason, at the test, naming the feature; CI=true fails it.

Each case runs pytest on a small project in a scratch directory. Its features are made up
(probes `true` and `false`), so the answers are the same on any kernel; the VM is kept out
with `--cni-vm=never`, or by a PATH without qemu.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.netns.test_harness import run_pytest

NEEDS_IT = """
    import pytest
    from krafty.testing.kernel import register_feature

    register_feature("nothing-has-this", ("false",), ("some-module",))

    @pytest.mark.cni_kernel("nothing-has-this")
    def test_needs_it():
        pass
"""


def skip_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]


def test_a_missing_kernel_feature_without_a_vm_skips_with_one_reason_and_fails_in_ci(tmp_path):
    """`--cni-vm=never` on a kernel without the feature: skipped at the test (`-rs` names its file
    and line, not the harness's), the reason names the feature (not its module); CI=true fails it."""
    skipped = run_pytest(tmp_path, NEEDS_IT, "--cni-vm=never", "-rs", CI="false")
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    assert skip_lines(skipped) == [
        "SKIPPED [1] test_it.py:7: this kernel lacks nothing-has-this (and --cni-vm=never)"
    ], skipped.stdout
    assert "some-module" not in skipped.stdout, skipped.stdout
    failed = run_pytest(tmp_path, NEEDS_IT, "--cni-vm=never", CI="true")
    assert failed.returncode == 1 and "1 error" in failed.stdout, failed.stdout
    assert re.search(
        r"^this kernel lacks nothing-has-this \(and --cni-vm=never\) \(CI=true: this test must run\)$",
        failed.stdout,
        re.M,
    ), failed.stdout


def test_features_registered_in_a_conftest_at_import_or_in_pytest_configure_are_probed(tmp_path):
    conftest = """
        from krafty.testing.kernel import register_feature

        register_feature("always-there", ("true",), ())

        def pytest_configure(config):
            register_feature("never-there", ("false",), ())
    """
    source = """
        import pytest

        @pytest.mark.cni_kernel("always-there")
        def test_has_it():
            pass

        @pytest.mark.cni_kernel("never-there")
        def test_lacks_it():
            pass
    """
    proc = run_pytest(tmp_path, source, "--cni-vm=never", "-rs", conftest=conftest, CI="false")
    assert proc.returncode == 0 and "1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert skip_lines(proc) == ["SKIPPED [1] test_it.py:8: this kernel lacks never-there (and --cni-vm=never)"]


def test_without_a_vm_the_reason_says_why_and_names_only_what_is_missing(tmp_path):
    """No qemu on PATH: a missing feature and `--cni-vm=always` with nothing missing each get their reason."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("unshare", "true", "false", "sh"):  # what the probes run; no qemu-system-x86_64
        (tools / tool).symlink_to(shutil.which(tool))
    source = """
        import pytest
        from krafty.testing.kernel import register_feature

        register_feature("nothing-has-this", ("false",), ("some-module",))
        register_feature("always-there", ("true",), ("other-module",))

        @pytest.mark.cni_kernel("nothing-has-this")
        def test_needs_it():
            pass

        @pytest.mark.cni_kernel("always-there")
        def test_has_it():
            pass
    """
    why = "no VM can run here: missing qemu-system-x86_64, depmod, modprobe: install qemu-system-x86 kmod"
    auto = run_pytest(tmp_path, source, "-rs", CI="false", PATH=str(tools))
    assert auto.returncode == 0 and "1 passed, 1 skipped" in auto.stdout, auto.stdout
    assert skip_lines(auto) == [f"SKIPPED [1] test_it.py:8: this kernel lacks nothing-has-this and {why}"]
    always = run_pytest(tmp_path, source, "-rs", "--cni-vm=always", CI="false", PATH=str(tools))
    assert always.returncode == 0 and "2 skipped" in always.stdout, always.stdout
    assert skip_lines(always) == [
        f"SKIPPED [1] test_it.py:8: this kernel lacks nothing-has-this and {why}",
        f"SKIPPED [1] test_it.py:12: --cni-vm=always and {why}",
    ], always.stdout
    assert "module" not in always.stdout and "lacks  " not in always.stdout, always.stdout


def test_in_the_vm_a_module_that_does_not_load_is_an_error_with_what_modprobe_said(tmp_path):
    """The VM is booted to bring a feature's modules; when one does not load there, the test
    errors (CI or not) with modprobe's own words, instead of skipping as if nothing were wrong."""
    from krafty.testing.kernel import vm_unavailable
    from krafty.testing.plugin import skip_or_fail

    if why := vm_unavailable():
        skip_or_fail(f"no VM can run here: {why}")
    source = """
        import pytest
        from krafty.testing.kernel import register_feature

        register_feature("nothing-has-this", ("false",), ("no_such_module",))

        @pytest.mark.cni_kernel("nothing-has-this")
        def test_needs_it():
            pass
    """
    proc = run_pytest(tmp_path, source, "-rE", "--cni-vm=always", CI="false")
    assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout + proc.stderr
    assert re.search(
        r"^this kernel lacks nothing-has-this \(in the VM: modprobe: .*\bno_such_module\b.*\)$",  # its wording varies
        proc.stdout,
        re.M,
    ), proc.stdout
