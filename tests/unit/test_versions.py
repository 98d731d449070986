"""Every spec version (krafty.testing.versions): what each has, VERSION ∩ the spec, the
`cni_versions` marker, and the 0.1.0/0.2.0 result shape (krafty.types).

Expected values are the spec's: its table of versions (SPEC.md "Specification versions"),
what each release added (CHECK in 0.4.0, GC/STATUS in 1.1.0, `ips`/`interfaces`/chaining in
0.3.0, `ips[].version` removed in 1.0.0), and the 0.2.0 result of CNI's own
`pkg/types/020/types_test.go`. Stub plugins answer VERSION with literal lists.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from krafty.testing import versions
from krafty.testing.runtime import Runtime
from krafty.types import result_violations
from tests import inner_pytest

# version: (CHECK, GC, STATUS, ips[].version, chaining, interfaces, several IPs per family)
SPEC_TABLE = {
    "0.1.0": (False, False, False, False, False, False, False),
    "0.2.0": (False, False, False, False, False, False, False),
    "0.3.0": (False, False, False, True, True, True, True),
    "0.3.1": (False, False, False, True, True, True, True),
    "0.4.0": (True, False, False, True, True, True, True),
    "1.0.0": (True, False, False, False, True, True, True),
    "1.1.0": (True, True, True, False, True, True, True),
}
PREDICATES = (
    versions.has_check,
    versions.has_gc,
    versions.has_status,
    versions.has_ip_version,
    versions.has_chaining,
    versions.has_interfaces,
    versions.has_multiple_ips,
)

# containernetworking/cni pkg/types/020/types_test.go: a full 0.2.0 (and 0.1.0) result.
RESULT_020 = {
    "cniVersion": "0.2.0",
    "ip4": {"ip": "1.2.3.30/24", "gateway": "1.2.3.1", "routes": [{"dst": "15.5.6.0/24", "gw": "15.5.6.8"}]},
    "ip6": {
        "ip": "abcd:1234:ffff::cdde/64",
        "gateway": "abcd:1234:ffff::1",
        "routes": [{"dst": "1111:dddd::/80", "gw": "1111:dddd::aaaa"}],
    },
    "dns": {
        "nameservers": ["1.2.3.4", "1::cafe"],
        "domain": "acompany.com",
        "search": ["somedomain.com", "otherdomain.net"],
        "options": ["foo", "bar"],
    },
}
# SPEC.md 0.4.0's example, a 0.3-shaped result.
RESULT_040 = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"}],
    "ips": [{"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.1.0.1"]},
}


# --- the versions and what each has ----------------------------------------------------------


def test_the_spec_versions_are_the_specs_table_oldest_first():
    assert versions.SPEC_VERSIONS == ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
    assert versions.NEWEST == "1.1.0"


@pytest.mark.parametrize("version", SPEC_TABLE)
def test_each_version_has_what_the_spec_gave_it(version):
    assert tuple(has(version) for has in PREDICATES) == SPEC_TABLE[version]


def test_versions_compare_as_numbers_not_strings():
    assert versions.has_check("0.10.0")
    assert not versions.has_status("1.0.10")


# --- VERSION ∩ the spec -------------------------------------------------------------------------


def stub(directory: Path, name: str, answer: str, log: Path | None = None) -> Path:
    """A plugin that answers every call with `answer` and logs its env and stdin (one line each)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    logging = f'echo "$CNI_COMMAND $(cat)" >> {log}\n' if log else ""
    path.write_text(f"#!/bin/sh\n{logging}cat <<'EOF'\n{answer}\nEOF\n")
    path.chmod(0o755)
    return path


def listing(*supported: str) -> str:
    return json.dumps({"cniVersion": "1.0.0", "supportedVersions": list(supported)})


def test_versions_of_keeps_the_spec_versions_a_plugin_lists_in_spec_order(tmp_path):
    stub(tmp_path / "bin", "p", listing("1.0.0", "0.2.0", "9.9.9", "0.4.0", "0.3.1"))
    expected = ["0.2.0", "0.3.1", "0.4.0", "1.0.0"]
    assert versions.versions_of(f"/nonexistent:{tmp_path / 'bin'}", "p") == expected
    assert versions.versions_of(tmp_path / "bin", "p") == expected
    assert versions.versions_of([tmp_path / "elsewhere", tmp_path / "bin"], "p") == expected


def test_versions_of_asks_with_the_newest_version_and_no_container(tmp_path):
    log = tmp_path / "calls"
    stub(tmp_path / "bin", "p", listing("1.0.0"), log)
    versions.versions_of(str(tmp_path / "bin"), "p")
    command, stdin = log.read_text().strip().split(" ", 1)
    assert command == "VERSION"
    assert json.loads(stdin) == {"cniVersion": "1.1.0"}


def test_versions_of_takes_the_first_plugin_on_the_path(tmp_path):
    stub(tmp_path / "first", "p", listing("0.4.0"))
    stub(tmp_path / "second", "p", listing("1.0.0"))
    assert versions.versions_of([tmp_path / "first", tmp_path / "second"], "p") == ["0.4.0"]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"cniVersion": "1.0.0"}', "supportedVersions must be a non-empty list"),
        ("not json", "stdout is not JSON"),
    ],
)
def test_versions_of_refuses_an_answer_that_is_no_version_list(tmp_path, answer, reason):
    stub(tmp_path, "p", answer)
    with pytest.raises(versions.VersionLookupError, match=reason):
        versions.versions_of(tmp_path, "p")


def test_versions_of_names_a_plugin_it_cannot_find(tmp_path):
    with pytest.raises(versions.VersionLookupError, match=r"plugin 'nope' not found in /a:/b"):
        versions.versions_of("/a:/b", "nope")


def test_versions_of_a_runtime_asks_that_runtime(tmp_path, monkeypatch):
    """A fake node: the runtime runs the stub itself instead of entering a namespace."""
    log = tmp_path / "calls"
    stub(tmp_path / "bin", "p", listing("0.3.0", "1.1.0"), log)
    runtime = Runtime(None, [tmp_path / "bin"], tmp_path / "cache")  # type: ignore[arg-type]
    monkeypatch.setattr(runtime, "argv", lambda executable: [str(executable)])
    assert versions.versions_of(runtime, "p") == ["0.3.0", "1.1.0"]
    command, stdin = log.read_text().strip().split(" ", 1)
    assert (command, json.loads(stdin)) == ("VERSION", {"cniVersion": "1.1.0"})


def test_versions_of_takes_the_first_executable_file_on_the_path(tmp_path):
    """A file that cannot be run, or a directory, of that name is not the plugin (as libcni's FindInPath)."""
    stub(tmp_path / "plain", "p", listing("0.3.0")).chmod(0o644)
    (tmp_path / "dir" / "p").mkdir(parents=True)
    stub(tmp_path / "bin", "p", listing("1.0.0"))
    assert versions.versions_of([tmp_path / "plain", tmp_path / "dir", tmp_path / "bin"], "p") == ["1.0.0"]


ENV_LOGGER = """#!/bin/sh
printf '%s\\n' "PATH=$PATH" "CNI_COMMAND=$CNI_COMMAND" "CNI_PATH=$CNI_PATH" "CNI_NETNS=$CNI_NETNS" > {log}
echo '{answer}'
"""


@pytest.mark.parametrize("path", ["/opt/tools:/usr/bin:/bin", None], ids=["path-set", "path-unset"])
def test_version_runs_with_path_command_and_the_search_path_only(tmp_path, monkeypatch, path):
    """VERSION's environment: the harness's PATH (or the usual system one), CNI_COMMAND and
    CNI_PATH (the search path, `:`-joined as libcni does); no container, no namespace."""
    log = tmp_path / "env"
    plugin = tmp_path / "bin" / "p"
    plugin.parent.mkdir()
    plugin.write_text(ENV_LOGGER.format(log=log, answer=listing("1.0.0")))
    plugin.chmod(0o755)
    if path is None:
        monkeypatch.delenv("PATH")
    else:
        monkeypatch.setenv("PATH", path)
    assert versions.versions_of([tmp_path / "bin", tmp_path / "more"], "p") == ["1.0.0"]
    assert log.read_text().splitlines() == [
        f"PATH={path or '/usr/sbin:/usr/bin:/sbin:/bin'}",
        "CNI_COMMAND=VERSION",
        f"CNI_PATH={tmp_path / 'bin'}:{tmp_path / 'more'}",
        "CNI_NETNS=",
    ]


def test_a_version_call_that_fails_says_how_and_what_the_plugin_printed(tmp_path):
    failing = tmp_path / "failing"
    failing.write_text(f"#!/bin/sh\necho '{listing('1.0.0')}'\necho oops >&2\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(versions.VersionLookupError) as exited:
        versions.listed_versions(failing)
    assert str(exited.value) == f"{failing} VERSION exited 3: an error\nstdout: {listing('1.0.0')}\n\nstderr: oops\n"
    empty = stub(tmp_path, "empty", "{}")
    with pytest.raises(versions.VersionLookupError) as wrong:
        versions.listed_versions(empty)
    assert str(wrong.value).startswith(
        f"{empty} VERSION exited 0: VERSION: cniVersion must be a string; "
        "VERSION: supportedVersions must be a non-empty list of strings\nstdout: {}"
    )


def test_a_version_answer_is_quoted_from_its_start_and_its_errors_from_their_end(tmp_path):
    """At most 300 characters of stdout (where the JSON begins) and 500 of stderr (where the
    error is); bytes that are not UTF-8 do not hide the rest."""
    noisy = tmp_path / "noisy"
    noisy.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "sys.stdout.buffer.write(b'\\xff' + b'A' * 299 + b'B' * 100)\n"
        "sys.stderr.buffer.write(b'C' * 100 + b'D' * 499 + b'\\xff')\n"
    )
    noisy.chmod(0o755)
    with pytest.raises(versions.VersionLookupError) as raised:
        versions.listed_versions(noisy)
    assert str(raised.value) == (
        f"{noisy} VERSION exited 0: stdout is not JSON\nstdout: \ufffd{'A' * 299}\nstderr: {'D' * 499}\ufffd"
    )


def test_a_version_call_that_cannot_run_or_never_ends_says_so(tmp_path):
    sleeper = stub(tmp_path, "sleeper", "")
    sleeper.write_text("#!/bin/sh\nexec sleep 2\n")
    with pytest.raises(versions.VersionLookupError) as late:
        versions.listed_versions(sleeper, timeout=0.1)
    assert str(late.value) == f"{sleeper} VERSION could not run: Command '['{sleeper}']' timed out after 0.1 seconds"
    plain = stub(tmp_path, "plain", listing("1.0.0"))
    plain.chmod(0o644)
    with pytest.raises(versions.VersionLookupError) as refused:
        versions.listed_versions(plain)
    assert str(refused.value) == f"{plain} VERSION could not run: [Errno 13] Permission denied: '{plain}'"


# --- the cni_versions marker ------------------------------------------------------------------


def run_pytest(tmp_path: Path, test_source: str, *args: str, env: dict[str, str] | None = None):
    """Verbose, so that the tests below read each test's id and outcome."""
    source = "import pytest\n\n" + test_source
    return inner_pytest.run_pytest(
        tmp_path, source, "-p", "no:randomly", "-rs", "-v", *args, name="test_inner.py", **(env or {})
    )


def test_a_test_runs_once_per_version_the_plugin_lists_and_version_runs_once(tmp_path):
    log = tmp_path / "calls"
    stub(tmp_path / "bin", "p", listing("0.2.0", "1.0.0", "9.9.9"), log)
    done = run_pytest(
        tmp_path,
        "@pytest.mark.cni_versions('p')\ndef test_a(cni_version):\n    assert cni_version in ('0.2.0', '1.0.0')\n\n"
        "@pytest.mark.cni_versions('p')\ndef test_b(cni_version):\n    pass\n",
        f"--cni-path={tmp_path / 'bin'}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for test in ("test_a[0.2.0]", "test_a[1.0.0]", "test_b[0.2.0]", "test_b[1.0.0]"):
        assert f"test_inner.py::{test} PASSED" in done.stdout
    assert "4 passed" in done.stdout
    assert len(log.read_text().splitlines()) == 1, "VERSION runs once per plugin per session"


def test_several_plugins_give_the_versions_they_all_list_narrowed_by_min_and_max(tmp_path):
    stub(tmp_path / "bin", "p", listing("0.1.0", "0.2.0", "0.3.1", "0.4.0", "1.0.0"))
    stub(tmp_path / "bin", "q", listing("0.3.1", "0.4.0", "1.0.0", "1.1.0"))
    done = run_pytest(
        tmp_path,
        "@pytest.mark.cni_versions('p', 'q')\ndef test_both(cni_version):\n    pass\n\n"
        "@pytest.mark.cni_versions('p', 'q', min='0.4.0', max='0.4.0')\ndef test_one(cni_version):\n    pass\n",
        "--collect-only",
        "-qq",
        env=env_with(CNI_PATH=str(tmp_path / "bin")),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if line.startswith("test_inner.py::")]
    assert collected == [
        "test_inner.py::test_both[0.3.1]",
        "test_inner.py::test_both[0.4.0]",
        "test_inner.py::test_both[1.0.0]",
        "test_inner.py::test_one[0.4.0]",
    ]


def env_with(**changes: str) -> dict[str, str]:
    return {**os.environ, **changes}


def test_no_version_in_common_is_a_skip_that_says_why(tmp_path):
    stub(tmp_path / "bin", "p", listing("0.3.1", "0.4.0"))
    done = run_pytest(
        tmp_path,
        "@pytest.mark.cni_versions('p', min='1.0.0')\ndef test_new(cni_version):\n    pass\n",
        f"--cni-path={tmp_path / 'bin'}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "p list no spec version in common between 1.0.0 and 1.1.0" in done.stdout
    assert "1 skipped" in done.stdout


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [
        ("nope", "cni_versions('nope'): plugin 'nope' not found in {bin}"),
        ("broken", "cni_versions('broken'): {bin}/broken VERSION exited 0: stdout is not JSON"),
    ],
    ids=["not-found", "no-version-answer"],
)
def test_a_plugin_that_cannot_be_asked_is_one_test_in_error_that_says_why(tmp_path, plugin, reason):
    """Not a collection error: that would stop every other test of the run (`-m unit` too)."""
    stub(tmp_path / "bin", "broken", "oops")
    source = (
        f"@pytest.mark.cni_versions({plugin!r})\ndef test_x(cni_version):\n    pass\n\ndef test_other():\n    pass\n"
    )
    done = run_pytest(tmp_path, source, f"--cni-path={tmp_path / 'bin'}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 1 error" in done.stdout, done.stdout
    assert "test_x[unavailable]" in done.stdout and reason.format(bin=tmp_path / "bin") in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "@pytest.mark.cni_versions('p')\ndef test_x():\n    pass\n",
            "cni_versions needs the test to take a `cni_version` argument",
        ),
        (
            "@pytest.mark.cni_versions('p', newest='1.0.0')\ndef test_x(cni_version):\n    pass\n",
            "usage is cni_versions(*plugins, min=None, max=None); unknown keywords ['newest']",
        ),
    ],
    ids=["no-argument", "unknown-keyword"],
)
def test_a_test_that_cannot_be_generated_is_a_collection_error_that_says_why(tmp_path, source, reason):
    stub(tmp_path / "bin", "p", listing("1.0.0"))
    stub(tmp_path / "bin", "broken", "oops")
    done = run_pytest(tmp_path, source, f"--cni-path={tmp_path / 'bin'}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ERROR collecting test_inner.py" in done.stdout
    assert reason.format(bin=tmp_path / "bin") in done.stdout


# --- the marker's tests, generated in this process --------------------------------------------


class Metafunc:
    """What `versions.parametrize` uses of pytest's Metafunc; records the tests it asks for."""

    def __init__(self, config=None, *, takes_cni_version=True, **options):
        self.definition = SimpleNamespace(nodeid="test_inner.py::test_x")
        self.fixturenames = ["cni_version"] if takes_cni_version else ["tmp_path"]
        self.options = {"cni_timeout": 300.0, **options}  # --cni-timeout's default
        self.config = config or SimpleNamespace(stash=pytest.Stash(), getoption=self.getoption)
        self.tests: list[tuple[str, object, list[str]]] = []  # (id, cni_version, skip reasons)

    def getoption(self, name):
        return self.options[name]

    def parametrize(self, argname, argvalues, ids=None):
        assert (argname, self.tests) == ("cni_version", []), "parametrized once, by cni_version"
        for n, value in enumerate(argvalues):
            if isinstance(value, pytest.ParameterSet):
                reasons = [m.kwargs["reason"] for m in value.marks if m.name == "skip"]
                self.tests.append((value.id, value.values[0], reasons))
            else:
                self.tests.append((ids[n], value, []))


def generate(bin_dir: Path, *plugins: str, metafunc: Metafunc | None = None, **kwargs):
    metafunc = metafunc or Metafunc()
    versions.parametrize(metafunc, pytest.mark.cni_versions(*plugins, **kwargs).mark, [str(bin_dir)])
    return metafunc.tests


def plain(*listed: str):
    return [(v, v, []) for v in listed]


def test_the_marker_generates_one_test_per_listed_version_oldest_first_asking_once(tmp_path):
    log = tmp_path / "calls"
    stub(tmp_path / "bin", "p", listing("1.0.0", "0.2.0", "9.9.9"), log)
    first = Metafunc()
    assert generate(tmp_path / "bin", "p", metafunc=first) == plain("0.2.0", "1.0.0")
    assert generate(tmp_path / "bin", "p", metafunc=Metafunc(first.config)) == plain("0.2.0", "1.0.0")
    assert len(log.read_text().splitlines()) == 1, "VERSION runs once per plugin per session"
    generate(tmp_path / "bin", "p")
    assert len(log.read_text().splitlines()) == 2, "and again in another session"


def test_the_marker_keeps_what_every_plugin_lists_between_min_and_max_inclusive(tmp_path):
    stub(tmp_path / "bin", "p", listing("0.1.0", "0.2.0", "0.3.1", "0.4.0", "1.0.0"))
    stub(tmp_path / "bin", "q", listing("0.3.1", "0.4.0", "1.0.0", "1.1.0"))
    bin_dir = tmp_path / "bin"
    assert generate(bin_dir, "p", "q") == plain("0.3.1", "0.4.0", "1.0.0")
    assert generate(bin_dir, "p", "q", min="0.4.0") == plain("0.4.0", "1.0.0")
    assert generate(bin_dir, "p", "q", max="0.4.0") == plain("0.3.1", "0.4.0")
    assert generate(bin_dir, "p", "q", min="0.3.1", max="1.0.0") == plain("0.3.1", "0.4.0", "1.0.0")
    assert generate(bin_dir, "p", "q", min="0.4.0", max="0.4.0") == plain("0.4.0")
    assert generate(bin_dir, "p", min="0.2.0", max="0.3.1") == plain("0.2.0", "0.3.1")


def test_no_version_in_common_is_one_skipped_test_saying_why(tmp_path):
    stub(tmp_path / "bin", "p", listing("0.3.1", "0.4.0"))
    stub(tmp_path / "bin", "q", listing("1.0.0"))
    bin_dir = tmp_path / "bin"
    assert generate(bin_dir, "p", "q") == [("no-version", None, ["p, q list no spec version in common"])]
    assert generate(bin_dir, "p", min="1.0.0") == [
        ("no-version", None, ["p list no spec version in common between 1.0.0 and 1.1.0"])
    ]
    assert generate(bin_dir, "p", max="0.3.0") == [
        ("no-version", None, ["p list no spec version in common between 0.1.0 and 0.3.0"])
    ]


def test_a_plugin_that_cannot_be_asked_is_one_test_unavailable_saying_why(tmp_path):
    stub(tmp_path / "bin", "p", listing("1.0.0"))
    stub(tmp_path / "bin", "broken", "oops")
    bin_dir = tmp_path / "bin"
    for plugins, reason in [
        (("p", "nope"), f"cni_versions('nope'): plugin 'nope' not found in {bin_dir}"),
        (("broken", "p"), f"cni_versions('broken'): {bin_dir}/broken VERSION exited 0: stdout is not JSON"),
    ]:
        [(test_id, version, skipped)] = generate(bin_dir, *plugins)
        assert (test_id, skipped) == ("unavailable", [])
        assert isinstance(version, versions.Unavailable)
        assert version.startswith(reason), version


def test_the_marker_asks_within_the_runs_plugin_timeout(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "slow").write_text("#!/bin/sh\nexec sleep 2\n")
    (tmp_path / "bin" / "slow").chmod(0o755)
    [(test_id, version, _)] = generate(tmp_path / "bin", "slow", metafunc=Metafunc(cni_timeout=0.1))
    assert (test_id, version) == (
        "unavailable",
        f"cni_versions('slow'): {tmp_path}/bin/slow VERSION could not run: "
        f"Command '['{tmp_path}/bin/slow']' timed out after 0.1 seconds",
    )


@pytest.mark.parametrize(
    ("metafunc", "plugins", "kwargs", "reason"),
    [
        (
            Metafunc(takes_cni_version=False), ("p",), {},
            "test_inner.py::test_x: cni_versions needs the test to take a `cni_version` argument",
        ),
        (Metafunc(), (), {}, "test_inner.py::test_x: usage is cni_versions(*plugins, min=None, max=None)"),
        (
            Metafunc(), ("p",), {"newest": "1.0.0", "oldest": "0.1.0", "min": "0.3.0"},
            "test_inner.py::test_x: usage is cni_versions(*plugins, min=None, max=None); "
            "unknown keywords ['newest', 'oldest']",
        ),
    ],
    ids=["no-argument", "no-plugin", "unknown-keywords"],
)  # fmt: skip
def test_the_marker_used_wrongly_is_a_collection_error_saying_why(tmp_path, metafunc, plugins, kwargs, reason):
    stub(tmp_path / "bin", "p", listing("1.0.0"))
    with pytest.raises(pytest.Collector.CollectError) as raised:
        generate(tmp_path / "bin", *plugins, metafunc=metafunc, **kwargs)
    assert str(raised.value) == reason
    assert metafunc.tests == []


# --- 0.1.0 and 0.2.0 results have their own shape ------------------------------------------------


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_the_020_result_of_cnis_own_tests_is_valid_at_0_1_0_and_0_2_0(version):
    assert result_violations(RESULT_020 | {"cniVersion": version}, version) == []
    assert result_violations({"cniVersion": version, "ip4": {"ip": "10.1.0.5/16"}}, version) == []


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_a_0_3_shaped_result_is_refused_at_0_1_0_and_0_2_0(version):
    shaped = RESULT_040 | {"cniVersion": version}
    ips = {"version": "4", "address": "10.1.0.5/16"}
    assert result_violations(shaped, version) == [
        f"result: interfaces needs cniVersion 0.3.0 ({version} has ip4/ip6)",
        f"result: ips needs cniVersion 0.3.0 ({version} has ip4/ip6)",
        f"result: routes needs cniVersion 0.3.0 ({version} has ip4/ip6)",
    ]
    assert result_violations({"cniVersion": version, "ips": [ips]}, version) == [
        f"result: ips needs cniVersion 0.3.0 ({version} has ip4/ip6)"
    ]


@pytest.mark.parametrize("version", ["0.3.0", "0.4.0", "1.0.0", "1.1.0"])
def test_a_0_2_shaped_result_is_refused_from_0_3_0(version):
    shaped = {k: v for k, v in RESULT_020.items() if k != "cniVersion"} | {"cniVersion": version}
    assert result_violations(shaped, version) == [
        "result: ip4 was replaced by ips in cniVersion 0.3.0",
        "result: ip6 was replaced by ips in cniVersion 0.3.0",
    ]


def broken_020(key: str, field: str, value):
    doc = copy.deepcopy(RESULT_020)
    doc[key][field] = value
    return doc


@pytest.mark.parametrize(
    ("result", "rule"),
    [
        (RESULT_020 | {"cniVersion": "0.1.0"}, "result: cniVersion is '0.1.0', the config asked for '0.2.0'"),
        (RESULT_020 | {"ip4": ["1.2.3.30/24"]}, "result: ip4 must be an object"),
        (broken_020("ip4", "ip", "1.2.3.30"), "result: ip4.ip must be an IPv4 address in CIDR notation"),
        (broken_020("ip4", "ip", "abcd::1/64"), "result: ip4.ip must be an IPv4 address in CIDR notation"),
        (broken_020("ip6", "ip", "1.2.3.30/24"), "result: ip6.ip must be an IPv6 address in CIDR notation"),
        (broken_020("ip4", "gateway", "abcd:1234:ffff::1"), "result: ip4.gateway must be an IPv4 address"),
        (broken_020("ip6", "gateway", "nowhere"), "result: ip6.gateway must be an IPv6 address"),
        (broken_020("ip4", "routes", {"dst": "0.0.0.0/0"}), "result: ip4.routes must be a list"),
        (broken_020("ip4", "routes", ["0.0.0.0/0"]), "result: ip4.routes[0] must be an object"),
        (
            broken_020("ip4", "routes", [{"dst": "::/0"}]),
            "result: ip4.routes[0].dst must be an IPv4 network in CIDR notation",
        ),
        (
            broken_020("ip6", "routes", [{"gw": "::1"}]),
            "result: ip6.routes[0].dst must be an IPv6 network in CIDR notation",
        ),
        (
            broken_020("ip6", "routes", [{"dst": "::/0", "gw": "1.2.3.1"}]),
            "result: ip6.routes[0].gw must be an IPv6 address",
        ),
        (RESULT_020 | {"dns": ["1.2.3.4"]}, "result: dns must be an object"),
        (RESULT_020 | {"dns": {"nameservers": "1.2.3.4"}}, "result: dns.nameservers must be a list of strings"),
        (RESULT_020 | {"dns": {"domain": ["acompany.com"]}}, "result: dns.domain must be a string"),
    ],
)
def test_each_broken_0_2_0_rule_is_named(result, rule):
    assert result_violations(result, "0.2.0") == [rule]


def without(key: str) -> dict:
    return {k: v for k, v in RESULT_020.items() if k != key}


@pytest.mark.parametrize(
    ("result", "rules"),
    [
        (without("ip4") | {"ip6": {"ip": "1.2.3.30/24"}}, ["result: ip6.ip must be an IPv6 address in CIDR notation"]),
        (
            RESULT_020 | {"ip4": "1.2.3.30/24", "ip6": {"ip": "abcd::1"}},
            ["result: ip4 must be an object", "result: ip6.ip must be an IPv6 address in CIDR notation"],
        ),
        (
            broken_020("ip4", "routes", "0.0.0.0/0") | {"ip6": {"ip": "abcd::1"}},
            ["result: ip4.routes must be a list", "result: ip6.ip must be an IPv6 address in CIDR notation"],
        ),
        (
            broken_020("ip4", "routes", ["0.0.0.0/0", {"dst": "::/0"}]),
            [
                "result: ip4.routes[0] must be an object",
                "result: ip4.routes[1].dst must be an IPv4 network in CIDR notation",
            ],
        ),
        (
            RESULT_020 | {"dns": {"search": "a.example", "options": "ndots:5"}},
            ["result: dns.search must be a list of strings", "result: dns.options must be a list of strings"],
        ),
    ],
    ids=["ip6 alone", "ip4 not an object", "ip4 routes not a list", "a route not an object", "dns search and options"],
)
def test_a_broken_0_2_0_part_does_not_hide_the_rest(result, rules):
    """Each rule is checked on its own: one broken part (or a missing ip4) does not end the check."""
    assert result_violations(result, "0.2.0") == rules
