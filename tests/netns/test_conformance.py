"""The conformance suite (krafty.testing.conformance), held to what it finds.

Each reference plugin of Debian's containernetworking-plugins is judged with its config in
tests/netns/conformance/ and its verdicts are pinned: a change in a plugin or in the suite is
seen. Every pinned fail and warn is explained in docs/conformance.md with its evidence. A
`bridge` with one deliberate break per rule (conformance/breaker.py) shows that each rule can
fail; krafty is judged like any plugin and must keep every rule.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from krafty.testing.conformance import RULES, Subject, all_rules, judge, judge_all
from krafty.testing.conformance.runner import ERROR, FAIL, NA, PASS, WARN

CONFIGS = Path(__file__).with_name("conformance")
DEBIAN = ["/usr/lib/cni"]
NEEDS_PARENT = {"macvlan", "ipvlan", "vlan", "host-device"}

# At the newest version each lists (1.0.0): (what the suite finds the plugin is, the rules it does not keep).
COMMON = {"env.command": FAIL, "error.fields": WARN}  # every Go plugin built on libcni's skel
LEAVES = {"del.clean": WARN, "del.no-netns": WARN, "del.no-prevresult": WARN}
REFERENCE = {
    "bridge": ({"interface", "delegating"}, {**COMMON, **LEAVES, "delegate.add-failure": WARN}),
    "ptp": ({"interface", "delegating"}, {**COMMON, **LEAVES, "attach.twice": WARN}),
    "macvlan": ({"interface", "delegating"}, COMMON),
    "host-device": (
        {"interface", "delegating"},
        {**COMMON, **LEAVES, "del.idempotent": FAIL, "del.unknown": FAIL, "delegate.add-failure": WARN},
    ),
    "tuning": ({"chained"}, {**COMMON, **LEAVES}),
    "bandwidth": ({"chained"}, {**COMMON, "attach.twice": WARN}),
    "portmap": ({"chained"}, COMMON),
    "firewall": ({"chained"}, {**COMMON, **LEAVES}),
    "sbr": (
        {"chained"},
        {
            **COMMON,
            "del.no-netns": WARN,
            "del.idempotent": FAIL,
            "del.unknown": FAIL,
            "check.after-add": ERROR,
            "attach.twice": ERROR,
        },
    ),
    "host-local": ({"ipam"}, COMMON),
    "static": ({"ipam"}, {**COMMON, "attach.twice": WARN, "parallel.add-del": FAIL}),
}


# Plugins whose kernel feature this machine may lack: they run in the VM there.
IN_VM = {
    "ipvlan": ("ipvlan", {"interface", "delegating"}, {}),
    "vlan": ("vlan", {"interface", "delegating"}, {}),
    "vrf": ("vrf", {"chained"}, {"check.after-add": ERROR, "attach.twice": ERROR}),
}


def subject(name: str, cni_path: list[str] = DEBIAN) -> Subject:
    return Subject.from_file(
        CONFIGS / f"{name}.json",
        cni_path,
        parent="parent0" if name in NEEDS_PARENT else None,
        one_at_a_time=name in ("host-device", "vlan"),  # one device to move; one VLAN id per master
    )


def broken(verdicts) -> dict[str, str]:
    return {v.rule: v.outcome for v in verdicts if v.outcome not in (PASS, NA)}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_a_reference_plugin_gets_its_pinned_verdicts(name):
    plugin = subject(name)
    assert plugin.classify() == REFERENCE[name][0]
    newest = plugin.versions[-1]
    assert newest == "1.0.0", "Debian's plugins list up to 1.0.0"
    verdicts = judge_all(plugin, versions=[newest])
    assert broken(verdicts) == REFERENCE[name][1], "\n".join(v.evidence for v in verdicts if v.outcome != PASS)


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=pytest.mark.cni_kernel(feature)) for name, (feature, _, _) in sorted(IN_VM.items())],
)
def test_a_reference_plugin_that_needs_a_kernel_feature_gets_its_pinned_verdicts(name):
    _, kinds, expected = IN_VM[name]
    plugin = subject(name)
    assert plugin.classify() == kinds
    verdicts = judge_all(plugin, versions=[plugin.versions[-1]])
    assert broken(verdicts) == {**COMMON, **expected}, "\n".join(v.evidence for v in verdicts if v.outcome != PASS)


def test_bridge_gets_the_same_verdicts_at_every_version_it_lists():
    plugin = subject("bridge")
    plugin.classify()
    assert plugin.versions == ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]
    assert plugin.unjudged == ["0.1.0", "0.2.0"]
    verdicts = judge_all(plugin, versions=plugin.versions[:-1])
    for version in plugin.versions[:-1]:
        expected = {r: o for r, o in REFERENCE["bridge"][1].items() if RULES[r].exists_in(version)}
        assert broken(v for v in verdicts if v.version == version) == expected, version


def test_the_command_judges_bridge_from_outside_the_repository(tmp_path):
    """docs/conformance.md's short command where a plugin's author runs it: the table in the
    terminal, and the report files in the working directory with the pinned verdicts."""
    done = subprocess.run(
        [sys.executable, "-m", "krafty.testing.conformance", str(CONFIGS / "bridge.json"), "--cni-path=/usr/lib/cni",
         "--cni-conformance-version=1.0.0", "-p", "no:xdist"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-2000:]  # bridge breaks env.command, a MUST
    assert "CNI conformance" in done.stdout
    assert "env.command            MUST      FAIL" in done.stdout
    assert "report: cni-conformance.json, cni-conformance.md" in done.stdout
    report = json.loads((tmp_path / "cni-conformance.json").read_text())
    assert {v["version"] for v in report["verdicts"]} == {"1.0.0"}
    verdicts = {v["rule"]: v["outcome"] for v in report["verdicts"] if v["outcome"] not in (PASS, NA)}
    assert verdicts == REFERENCE["bridge"][1]
    assert (tmp_path / "cni-conformance.md").read_text().startswith("# CNI conformance: `bridge`\n")


# --- every rule can fail ----------------------------------------------------------------------

BREAKABLE = [
    "add.result", "add.ifname", "add.existing-ifname", "del.idempotent", "del.unknown", "check.after-add",
    "check.detects-missing", "attach.twice", "id.legal", "delegate.env", "delegate.config", "delegate.del",
    "delegate.check", "version.answer", "version.echo", "version.unsupported", "env.required", "config.malformed",
    "parallel.add-del",
]  # fmt: skip
BREAKABLE_AT = {rule: "1.0.0" for rule in BREAKABLE} | dict.fromkeys(
    ["gc.keeps-valid", "status.ready", "delegate.gc", "delegate.status"], "1.1.0"
)


@pytest.fixture(scope="module")
def breaker(tmp_path_factory) -> Subject:
    bin_dir = tmp_path_factory.mktemp("breaker")
    (bin_dir / "breaker").symlink_to(CONFIGS / "breaker.py")
    config = Subject.from_file(CONFIGS / "bridge.json", DEBIAN).config
    config["plugins"][0]["type"] = "breaker"
    plugin = Subject(config, [str(bin_dir), *DEBIAN])
    assert plugin.classify() == {"interface", "delegating"}
    return plugin


def test_the_breaker_unbroken_keeps_every_rule_it_can_break(breaker):
    kept = {rule: judge(breaker, RULES[rule], version).outcome for rule, version in BREAKABLE_AT.items()}
    assert kept == dict.fromkeys(BREAKABLE_AT, PASS)


@pytest.mark.parametrize("rule", sorted(BREAKABLE_AT))
def test_each_rule_fails_when_its_behaviour_is_broken(breaker, rule, monkeypatch):
    monkeypatch.setenv("BREAKER_BREAK", rule)
    verdict = judge(breaker, RULES[rule], BREAKABLE_AT[rule])
    assert verdict.outcome == (FAIL if RULES[rule].level == "MUST" else WARN), verdict.evidence
    assert verdict.evidence


def test_every_rule_is_seen_to_fail_somewhere():
    """On the breaker, or on a reference plugin that breaks it (then the plain breaker, which is
    bridge, breaks it too, and krafty, which keeps every rule, shows it can pass)."""
    failing_somewhere = {
        rule for _, pinned in REFERENCE.values() for rule, outcome in pinned.items() if outcome != ERROR
    }
    assert {r.id for r in all_rules()} - set(BREAKABLE_AT) - failing_somewhere == set()


def test_strict_turns_a_broken_should_into_a_fail(breaker, monkeypatch):
    monkeypatch.setenv("BREAKER_BREAK", "config.malformed")
    assert judge(breaker, RULES["config.malformed"], "1.0.0", strict=True).outcome == FAIL


# --- krafty keeps every rule --------------------------------------------------------------------

# Every rule at the newest version, and VERSION's echo at 1.0.0 as well. krafty's own netns
# tests run ADD, CHECK and DEL at every version it lists; the whole suite at every version is
# `python -m krafty.testing.conformance tests/netns/conformance/krafty.json` (docs/conformance.md):
# here every call of krafty costs seconds in the VM.
KRAFTY_CASES = [(r.id, "1.1.0") for r in all_rules()] + [("version.echo", "1.0.0")]


@pytest.fixture(scope="module")
def krafty(tmp_path_factory, pytestconfig) -> Subject:
    bin_dir = tmp_path_factory.mktemp("krafty-bin")
    (bin_dir / "krafty").symlink_to(Path(sys.executable).with_name("krafty"))
    plugin = Subject.from_file(
        CONFIGS / "krafty.json",
        [str(bin_dir), *DEBIAN],
        private=["/run/krafty"],
        timeout=pytestconfig.getoption("cni_timeout"),  # eight parallel ADDs in a TCG VM take a while
    )
    assert plugin.classify() == {"interface", "delegating"}
    assert plugin.versions == ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    return plugin


@pytest.mark.cni_kernel("vrf")
@pytest.mark.parametrize(("rule", "version"), KRAFTY_CASES, ids=[f"{r}[{v}]" for r, v in KRAFTY_CASES])
def test_krafty_keeps_the_rule(krafty, rule, version):
    verdict = judge(krafty, RULES[rule], version)
    assert verdict.outcome == PASS, verdict.evidence


# --- nothing is left behind ---------------------------------------------------------------------


def test_an_interrupted_run_leaves_nothing(tmp_path):
    """Ctrl-C inside a case: it closes (DELs, namespaces, mounts, work directory).

    Python loses a SIGINT that lands in a finalizer (a weakref callback, say); a user presses
    again. So does this test, once the run has not ended 5 s after the last one. The run starts
    with SIGINT at its default, as under a terminal: a session started in the background by a
    shell without job control inherits SIGINT ignored, and so would the run.
    """
    worker = f"sigint{uuid.uuid4().hex[:6]}"  # in every namespace name the run makes
    scratch = tmp_path / "tmp"  # where its cases' work directories go
    scratch.mkdir()
    env = {**os.environ, "PYTEST_XDIST_WORKER": worker, "TMPDIR": str(scratch)}
    log = tmp_path / "output"
    with log.open("w") as output:
        run = subprocess.Popen(
            [sys.executable, "-m", "krafty.testing.conformance", str(CONFIGS / "bridge.json"),
             "--cni-path=/usr/lib/cni", f"--basetemp={tmp_path / 'base'}", "-k", "parallel", "-p", "no:xdist"],
            cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not any(name.startswith(f"cni-pod-{worker}") for name in os.listdir("/run/netns")):
            assert run.poll() is None and time.monotonic() < deadline, "the run made no pod"
            time.sleep(0.02)
        # A pod exists only inside a case, once it is made: the interrupt lands in a case's body.
        for _ in range(5):
            run.send_signal(signal.SIGINT)
            try:
                run.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
    text = log.read_text()
    assert run.returncode == pytest.ExitCode.INTERRUPTED, text[-2000:]
    assert [n for n in os.listdir("/run/netns") if worker in n] == []
    assert list(scratch.iterdir()) == []
