"""Every CNI spec version, what each one has, and the versions a plugin speaks.

A plugin that lists 0.1.0 … 1.0.0 in VERSION promises each of them, and each has its own
result shape and verbs: a test that runs at one version only tests one promise. The marker
`cni_versions(*plugins, min=None, max=None)` runs a test once per version the plugins list
(ids like `[1.0.0]`), its argument `cni_version`; the predicates say what that version has,
as containernetworking/plugins' `testutils.SpecVersionHas*` do.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from krafty.types import version_tuple, version_violations
from krafty.versions import SPEC_VERSION

if TYPE_CHECKING:  # the runtime asks these predicates what a version has
    from krafty.testing.runtime import Runtime

SPEC_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
"""Every released version of the spec, oldest first (the spec's own table of versions)."""
NEWEST = SPEC_VERSION

VERSIONS_SEEN = pytest.StashKey[dict]()


def _at_least(version: str, oldest: str) -> bool:
    return version_tuple(version) >= version_tuple(oldest)


def has_check(version: str) -> bool:
    """CHECK came in 0.4.0: a runtime refuses it below."""
    return _at_least(version, "0.4.0")


def has_gc(version: str) -> bool:
    """GC came in 1.1.0."""
    return _at_least(version, "1.1.0")


def has_status(version: str) -> bool:
    """STATUS came in 1.1.0."""
    return _at_least(version, "1.1.0")


def has_ip_version(version: str) -> bool:
    """`ips[].version` ("4"/"6") exists in 0.3.0, 0.3.1 and 0.4.0 only (1.0.0 removed it)."""
    return version in ("0.3.0", "0.3.1", "0.4.0")


def has_chaining(version: str) -> bool:
    """Plugin lists with `prevResult` came in 0.3.0."""
    return _at_least(version, "0.3.0")


def has_interfaces(version: str) -> bool:
    """Results list `interfaces` and `ips` from 0.3.0; before, `ip4`/`ip6` objects."""
    return _at_least(version, "0.3.0")


def has_multiple_ips(version: str) -> bool:
    """More than one address per family from 0.3.0; 0.1.0/0.2.0 hold one `ip4` and one `ip6`."""
    return _at_least(version, "0.3.0")


class VersionLookupError(Exception):
    """The plugin's VERSION could not be read: not found, not runnable, or an invalid answer."""


def find_plugin(search_path: Sequence[str | Path], plugin_type: str) -> Path:
    """The executable a runtime would run for `plugin_type` on `search_path`."""
    for directory in search_path:
        candidate = Path(directory, plugin_type)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise VersionLookupError(f"plugin {plugin_type!r} not found in {':'.join(map(str, search_path))}")


def listed_versions(executable: Path, search_path: Sequence[str | Path] = (), timeout: float = 30) -> tuple[str, ...]:
    """What VERSION lists, asked with the newest spec version (no root, no namespace needed)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": "VERSION",
        "CNI_PATH": ":".join(map(str, search_path)),
    }
    stdin = json.dumps({"cniVersion": NEWEST}).encode()
    try:
        done = subprocess.run(
            [str(executable)], input=stdin, env=env, capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise VersionLookupError(f"{executable} VERSION could not run: {err}") from None
    try:
        answer: Any = json.loads(done.stdout)
    except ValueError:
        answer = None
    broken = version_violations(answer) if answer is not None else ["stdout is not JSON"]
    if done.returncode or broken:
        stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        raise VersionLookupError(
            f"{executable} VERSION exited {done.returncode}: {'; '.join(broken) or 'an error'}"
            f"\nstdout: {stdout[:300]}\nstderr: {stderr[-500:]}"
        )
    return tuple(answer["supportedVersions"])


def in_spec_order(listed: Sequence[str]) -> list[str]:
    """The spec's versions a plugin lists, oldest first; versions the spec never had are dropped."""
    return [version for version in SPEC_VERSIONS if version in listed]


def versions_of(runtime_or_path: Runtime | str | Path | Sequence[str | Path], plugin_type: str) -> list[str]:
    """VERSION(plugin) ∩ the spec's versions, oldest first.

    With a `Runtime`, VERSION runs as that runtime runs it (checked, in its node); with a
    search path (`"a:b"`, a directory, or a list of them), the executable is run directly.
    """
    from krafty.testing.runtime import Runtime

    if isinstance(runtime_or_path, Runtime):
        return in_spec_order(runtime_or_path.version(plugin_type)["supportedVersions"])  # asked at NEWEST
    if isinstance(runtime_or_path, str):
        search_path: list[str | Path] = [p for p in runtime_or_path.split(":") if p]
    elif isinstance(runtime_or_path, Path):
        search_path = [runtime_or_path]
    else:
        search_path = list(runtime_or_path)
    return in_spec_order(listed_versions(find_plugin(search_path, plugin_type), search_path))


# --- the cni_versions marker (pytest_generate_tests in krafty.testing.plugin) ----------------


def _narrow(versions: list[str], oldest: str | None, newest: str | None) -> list[str]:
    return [
        v for v in versions if (oldest is None or _at_least(v, oldest)) and (newest is None or _at_least(newest, v))
    ]


class Unavailable(str):
    """The `cni_version` of a test whose plugins could not be asked which versions they speak:
    the test errs at setup with this reason (`krafty.testing.plugin.pytest_runtest_setup`)."""


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark, search_path: Sequence[str]) -> None:
    """Run the test once per version every plugin of the marker lists; a plugin that cannot be
    asked gives one test, `[unavailable]`, in error at setup with the reason (never a test silently not
    generated); a marker used wrongly is a collection error."""
    where = metafunc.definition.nodeid
    if "cni_version" not in metafunc.fixturenames:
        raise pytest.Collector.CollectError(f"{where}: cni_versions needs the test to take a `cni_version` argument")
    plugins = marker.args
    unknown = set(marker.kwargs) - {"min", "max"}
    if not plugins or unknown:
        raise pytest.Collector.CollectError(
            f"{where}: usage is cni_versions(*plugins, min=None, max=None)"
            + (f"; unknown keywords {sorted(unknown)}" if unknown else "")
        )
    seen = metafunc.config.stash.setdefault(VERSIONS_SEEN, {})
    versions = list(SPEC_VERSIONS)
    for plugin_type in plugins:
        try:
            executable = find_plugin(search_path, plugin_type)
            key = str(executable)
            if key not in seen:
                seen[key] = listed_versions(executable, search_path, metafunc.config.getoption("cni_timeout"))
        except VersionLookupError as err:  # one failing test: a collection error would stop every layer
            reason = Unavailable(f"cni_versions({plugin_type!r}): {err}")
            metafunc.parametrize("cni_version", [pytest.param(reason, id="unavailable")])
            return
        versions = [v for v in versions if v in seen[key]]
    oldest, newest = marker.kwargs.get("min"), marker.kwargs.get("max")
    versions = _narrow(versions, oldest, newest)
    if versions:
        metafunc.parametrize("cni_version", versions, ids=versions)
        return
    reason = f"{', '.join(plugins)} list no spec version in common" + (
        f" between {oldest or SPEC_VERSIONS[0]} and {newest or SPEC_VERSIONS[-1]}" if oldest or newest else ""
    )
    metafunc.parametrize("cni_version", [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-version")])
