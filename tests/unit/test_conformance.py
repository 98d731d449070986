"""The conformance suite's own parts, without root: the registry against docs/conformance.md, the
verdicts and their report, what a raw answer is judged by, the IPAM spy, the pytest front end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from krafty.testing.conformance import RULES, all_rules, judge
from krafty.testing.conformance import report as reports
from krafty.testing.conformance.case import Case, Subject, _not_from, leftover_key
from krafty.testing.conformance.expect import blame, clean, error_code, failure, success
from krafty.testing.conformance.rules import Broken, Unchecked, rule
from krafty.testing.conformance.runner import Verdict
from krafty.testing.conformance.spy import Spy
from krafty.testing.netns import NetnsError
from krafty.testing.runtime import CallOutput, CniCallError

pytest_plugins = ("pytester",)
DOCS = Path(__file__).parents[2] / "docs" / "conformance.md"


# --- the registry ------------------------------------------------------------------------------


def documented_rules() -> dict[str, tuple[str, str, str]]:
    """docs/conformance.md's table of rules: id -> (spec section, level, since)."""
    rows = re.findall(r"^\| `([a-z.-]+)` \| ([^|]+) \| (MUST|SHOULD) \| ?([0-9.]*) ?\|", DOCS.read_text(), re.M)
    return {rule_id: (section.strip(), level, since) for rule_id, section, level, since in rows}


def test_every_rule_is_documented_with_its_section_level_and_version():
    assert documented_rules() == {
        r.id: (r.section, r.level, "" if r.since == "0.3.0" else r.since) for r in all_rules()
    }


def test_rule_ids_are_stable_words():
    assert all(re.fullmatch(r"[a-z]+\.[a-z-]+", r.id) for r in all_rules())
    assert all(r.applies in ("any", "interface", "delegating", "ipam", "chained") for r in all_rules())


def test_a_rule_exists_from_its_version_on():
    assert not RULES["check.after-add"].exists_in("0.3.1")
    assert RULES["check.after-add"].exists_in("0.4.0")
    assert RULES["delegate.gc"].exists_in("1.1.0") and not RULES["delegate.gc"].exists_in("1.0.0")


def test_a_rule_id_is_registered_once_and_with_the_specs_keyword():
    with pytest.raises(ValueError, match="registered twice"):
        rule("del.unknown", "§2 DEL", "MUST", "again", group="x")(lambda case: None)
    with pytest.raises(ValueError, match="MUST or SHOULD"):
        rule("x.may", "§2", "MAY", "optional", group="x")(lambda case: None)
    assert "x.may" not in RULES


def test_a_rule_that_cannot_apply_is_not_run():
    """n/a before any namespace is made: no root needed for these two."""
    subject = SimpleNamespace(kinds={"ipam"}, classify_error="")
    gated = judge(subject, RULES["gc.keeps-valid"], "1.0.0")  # type: ignore[arg-type]
    assert (gated.outcome, gated.evidence) == ("n/a", "the rule came with spec 1.1.0")
    kind = judge(subject, RULES["add.ifname"], "1.0.0")  # type: ignore[arg-type]
    assert kind.outcome == "n/a" and kind.evidence.startswith("applies to interface plugins")
    subject.classify_error = "the first ADD failed, so what the plugin makes is not known: boom"
    assert judge(subject, RULES["add.ifname"], "1.0.0").evidence == subject.classify_error  # type: ignore[arg-type]


# --- what a raw answer is judged by ---------------------------------------------------------------


def out(status: int, stdout: str = "", stderr: str = "") -> CallOutput:
    return CallOutput(status, stdout, stderr)


def test_a_call_that_must_fail_needs_a_non_zero_exit_and_an_error_object():
    with pytest.raises(Broken, match="the plugin succeeded"):
        failure(out(0), "ADD")
    with pytest.raises(Broken, match="no error object"):
        failure(out(1, "oops"), "ADD")
    with pytest.raises(Broken, match="code must be a positive integer"):
        failure(out(1, '{"code": 0, "msg": "m"}'), "ADD")
    assert failure(out(1, '{"code": 7, "msg": "m"}'), "ADD") == {"code": 7, "msg": "m"}


def test_an_error_code_must_be_the_specs_and_name_what_it_must():
    answer = '{"code": 4, "msg": "CNI_IFNAME is missing"}'
    assert error_code(out(1, answer), "ADD", {4}, ["CNI_IFNAME"])["code"] == 4
    with pytest.raises(Broken, match="error code 4, the spec's is 6"):
        error_code(out(1, answer), "ADD", {6})
    with pytest.raises(Broken, match="must name CNI_NETNS"):
        error_code(out(1, answer), "ADD", {4}, ["CNI_NETNS"])
    assert error_code(out(1, '{"code": 4, "msg": "bad", "details": "CNI_NETNS"}'), "ADD", {4}, ["CNI_NETNS"])


def test_a_success_exits_0_and_prints_nothing_when_asked():
    success(out(0), "DEL", empty=True)
    success(out(0, "{}"), "ADD")
    with pytest.raises(Broken, match="print nothing"):
        success(out(0, "{}"), "DEL", empty=True)
    with pytest.raises(Broken, match="the plugin failed"):
        success(out(1, "{}"), "DEL")


def test_a_device_left_stands_for_its_addresses_and_routes():
    left = [
        "cni-node-x: links left: br0 (bridge)",
        "cni-node-x: addresses left: fe80::1/64 dev br0",
        "cni-node-x: sysctls changed: net.ipv4.ip_forward: 0 -> 1",
    ]
    with pytest.raises(Broken) as found:
        clean(left, "after DEL")
    assert str(found.value) == (
        "after DEL: left behind: cni-node-x: links left: br0 (bridge); "
        "cni-node-x: sysctls changed: net.ipv4.ip_forward: 0 -> 1"
    )
    clean([], "after DEL")


def test_an_error_of_another_plugin_of_the_list_leaves_the_rule_unjudged():
    err = CniCallError("bridge", "CHECK", 999, "gone")
    assert isinstance(blame("sbr", err, "CHECK"), Unchecked)
    assert isinstance(blame("bridge", err, "CHECK"), Broken)
    assert str(blame("bridge", err, "CHECK")) == "CHECK: bridge CHECK: code 999: gone"


def test_what_the_plugins_before_a_chained_one_leave_is_not_its_leftover():
    expected = {"links left: br0 (bridge)"}
    found = [
        "cni-node-a: links left: br0 (bridge)",
        "cni-node-a: routes left: fe80::/64 table main dev br0 metric 256 unicast",
        "cni-pod-b: sysctls changed: net.core.somaxconn: 4096 -> 500",
    ]
    assert leftover_key(found[0]) == "links left: br0 (bridge)"
    assert _not_from(expected, found) == [found[2]]


# --- the report -----------------------------------------------------------------------------------

VERDICTS = [
    Verdict("del.unknown", "1.0.0", "pass", "MUST"),
    Verdict("del.clean", "1.0.0", "warn", "SHOULD", "left: " + "x" * 400),
    Verdict("gc.keeps-valid", "1.0.0", "n/a", "SHOULD", "the rule came with spec 1.1.0"),
    Verdict("env.command", "1.0.0", "fail", "MUST", "exit 0"),
]


def test_the_table_has_a_column_per_version_and_the_evidence_of_what_broke():
    lines = reports.table(VERDICTS).splitlines()
    assert lines[0].split() == ["rule", "level", "1.0.0"]
    assert lines[1].split() == ["del.unknown", "MUST", "pass"]
    assert lines[2].split() == ["del.clean", "SHOULD", "warn"]
    assert lines[3].split() == ["gc.keeps-valid", "SHOULD", "-"]
    assert lines[4].split() == ["env.command", "MUST", "FAIL"]
    assert lines[5] == "1 pass, 1 fail, 1 warn, 1 n/a, 0 error"
    assert lines[6] == "warn del.clean [1.0.0]: left: " + "x" * 294 + " ..."
    assert lines[7] == "FAIL env.command [1.0.0]: exit 0"
    assert len(lines) == 8


def test_the_files_hold_every_verdict_with_its_whole_evidence(tmp_path):
    subject = SimpleNamespace(
        plugin="bridge", config={"name": "n"}, kinds={"interface"}, versions=["1.0.0"], unjudged=["0.2.0"]
    )
    json_path, md_path = reports.write(tmp_path / "out", subject, VERDICTS)  # type: ignore[arg-type]
    data = json.loads(json_path.read_text())
    assert data["summary"] == {"pass": 1, "fail": 1, "warn": 1, "n/a": 1, "error": 0}
    assert data["verdicts"][1]["evidence"] == "left: " + "x" * 400
    assert data["rules"]["env.command"] == {
        "section": RULES["env.command"].section,
        "level": "MUST",
        "summary": RULES["env.command"].summary,
    }
    assert data["unjudged_versions"] == ["0.2.0"]
    text = md_path.read_text()
    assert "| `env.command` | §2 Parameters; §5 Error (code 4) | MUST | FAIL |" in text
    assert "- **warn** `del.clean` [1.0.0]: left: " + "x" * 400 in text


# --- the IPAM spy, run as a plugin runs it ---------------------------------------------------------


@pytest.fixture
def spy(tmp_path) -> Spy:
    real = tmp_path / "real-ipam"
    real.write_text(f"#!{sys.executable}\n" + (Path(__file__).with_name("fake_ipam.py")).read_text())
    real.chmod(0o755)
    Path(f"{real}.versions").write_text("0.4.0 1.0.0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return Spy(bin_dir, "host-local", real, ["0.4.0", "1.0.0"])


def call_spy(spy: Spy, command: str, conf: dict) -> CallOutput:
    env = {**os.environ, "CNI_COMMAND": command, "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0"}
    done = subprocess.run([spy.path], input=json.dumps(conf), env=env, capture_output=True, text=True)
    return CallOutput(done.returncode, done.stdout, done.stderr)


def test_the_spy_records_and_forwards_at_a_version_its_plugin_speaks(spy, tmp_path):
    conf = {
        "cniVersion": "1.1.0",
        "name": "n",
        "type": "bridge",
        "ipam": {"type": "host-local", "dataDir": str(tmp_path), "ips": ["10.0.0.2/24"]},
    }
    answer = call_spy(spy, "ADD", conf)
    assert answer.status == 0 and json.loads(answer.stdout)["cniVersion"] == "1.1.0"
    assert (tmp_path / "calls").read_text() == "ADD 1.0.0 c1\n"  # the real one got 1.0.0
    [logged] = spy.calls("ADD")
    assert logged["config"] == conf and logged["env"]["CNI_CONTAINERID"] == "c1"


def test_the_spy_answers_version_gc_and_status_itself_and_fails_when_told(spy, tmp_path):
    conf = {"cniVersion": "1.1.0", "name": "n", "ipam": {"type": "host-local", "dataDir": str(tmp_path)}}
    assert json.loads(call_spy(spy, "VERSION", {"cniVersion": "1.1.0"}).stdout)["supportedVersions"][-1] == "1.1.0"
    assert call_spy(spy, "GC", conf).status == 0 and call_spy(spy, "STATUS", conf).status == 0
    assert not (tmp_path / "calls").exists()
    spy.fail("STATUS", 50, "not ready")
    failed = call_spy(spy, "STATUS", conf)
    assert failed.status == 1 and json.loads(failed.stdout) == {"cniVersion": "1.1.0", "code": 50, "msg": "not ready"}
    assert [c["command"] for c in spy.calls()] == ["VERSION", "GC", "STATUS", "STATUS"]


# --- the front ends -----------------------------------------------------------------------------


def test_a_subject_waits_for_its_plugin_as_long_as_the_harness_does(tmp_path):
    """docs/harness/README.md: a plugin call may take 300 s unless told otherwise. In a TCG VM
    eight parallel ADDs of a Python plugin took over 60 s, the suite's wait until then."""
    stub = tmp_path / "stub"
    stub.write_text('#!/bin/sh\necho \'{"cniVersion": "1.1.0", "supportedVersions": ["1.1.0"]}\'\n')
    stub.chmod(0o755)
    subject = Subject({"cniVersion": "1.1.0", "name": "n", "type": "stub"}, [tmp_path])
    assert subject.versions == ["1.1.0"]
    assert subject.timeout == 300


def test_a_case_ends_its_mounts_first_and_says_which_namespace_stayed(tmp_path):
    """A namespace left behind stays on the node for good: closing a case reports it, after
    removing everything else, and ends the private mounts (which hold copies of the pods'
    namespace mounts) before it removes any namespace."""
    done = []

    class Stub:
        def __init__(self, name, fails=False):
            self.name, self.fails = name, fails

        def remove(self):
            done.append(f"remove {self.name}")
            if self.fails:
                raise NetnsError(f"ip netns delete {self.name}: Device or resource busy")

        def stop(self):
            done.append("stop mounts")

    case = Case.__new__(Case)
    case.pods, case.node, case.mounts = [Stub("pod1"), Stub("pod2", fails=True)], Stub("node"), Stub("mounts")
    case.work = tmp_path / "work"
    case.work.mkdir()
    case.delete_all = lambda: done.append("delete all")
    with pytest.raises(NetnsError, match=r"^ip netns delete pod2: Device or resource busy$"):
        case.close()
    assert done == ["delete all", "stop mounts", "remove pod2", "remove pod1", "remove node"]
    assert not case.work.exists()


def test_a_plugin_not_on_the_path_is_one_usage_line(pytester, tmp_path):
    config = tmp_path / "net.json"
    config.write_text(json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "no-such-plugin"}))
    result = pytester.runpytest_inprocess(f"--cni-conformance={config}", f"--cni-path={tmp_path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --cni-conformance: plugin 'no-such-plugin' not found in {tmp_path}"])


def test_a_version_the_plugins_do_not_give_is_one_usage_line(pytester, tmp_path):
    """Debian's bridge lists up to 1.0.0: asked for 1.1.0 the suite would have nothing to run."""
    stub = tmp_path / "stub"
    stub.write_text('#!/bin/sh\necho \'{"cniVersion": "1.0.0", "supportedVersions": ["0.2.0", "0.4.0", "1.0.0"]}\'\n')
    stub.chmod(0o755)
    config = tmp_path / "net.json"
    config.write_text(json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "stub"}))
    result = pytester.runpytest_inprocess(
        f"--cni-conformance={config}", f"--cni-path={tmp_path}",
        "--cni-conformance-version=1.1.0", "--cni-conformance-version=1.0.0", "--cni-conformance-version=0.2.0",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --cni-conformance-version: 1.1.0, 0.2.0 not judged here; the plugins give 0.4.0, 1.0.0 from 0.3.0 on"]
    )


def test_the_command_without_a_config_says_how_to_call_it():
    done = subprocess.run([sys.executable, "-m", "krafty.testing.conformance"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("`python -m krafty.testing.conformance CONFIG [pytest options]`")
