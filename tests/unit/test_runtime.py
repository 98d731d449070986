"""The Runtime behaves as libcni does (libcni/api.go, libcni/conf.go, pkg/invoke), without root.

Plugins here are recording stubs written to tmp_path and run directly (no nsenter). Every
expected value is libcni's behaviour written out, or a literal.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from krafty.testing import (
    Attachment,
    CniCallError,
    CniExecError,
    CniRuntimeError,
    CniSpecViolation,
    CniTimeout,
    Runtime,
    check_answer,
    kill_at,
    verify,
)
from krafty.testing.kill import group_running
from krafty.testing.runtime import CallOutput, doing, kill_group
from krafty.types import result_violations
from tests.unit.test_verify import FakeRuntime

NETNS = "/var/run/netns/pod"

# Logs every call (verb, type, stdin, environment) and acts on its own config: it fails the
# verbs listed in "fail" with error code 11, prints "say" on the verbs listed in "say-on",
# sleeps "sleep" seconds (after starting a child that records its pid) on "slow-on".
STUB = textwrap.dedent(
    """\
    #!{python}
    import json, os, subprocess, sys, time
    conf = json.load(sys.stdin)
    cmd = os.environ["CNI_COMMAND"]
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"cmd": cmd, "type": conf.get("type"), "conf": conf, "env": dict(os.environ)}}) + "\\n")
    if cmd in conf.get("slow-on", []):
        child = subprocess.Popen(["sleep", "60"])
        open({log!r} + ".child", "w").write(str(child.pid))
        print("slow on purpose", file=sys.stderr, flush=True)
        time.sleep(conf.get("sleep", 60))
    if cmd in conf.get("say-on", []):
        print(conf["say"])
        sys.exit(0)
    if cmd in conf.get("fail", []):
        print(json.dumps({{"code": 11, "msg": conf["type"] + " failed"}}))
        sys.exit(1)
    if cmd == "ADD" and conf["cniVersion"] in ("0.1.0", "0.2.0"):
        print(json.dumps({{"cniVersion": conf["cniVersion"], "ip4": {{"ip": "10.0.0.2/24"}}}}))
    elif cmd == "ADD":
        result = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "interfaces": [], "ips": []}}
        result["interfaces"].append({{"name": conf["type"]}})
        print(json.dumps(result))
    """
)


class LocalRuntime(Runtime):
    """Runs the plugin itself, in this namespace: enough for everything but the kernel."""

    def argv(self, executable: Path | str) -> list[str]:
        return [str(executable)]

    def _verify(self, *args: Any, **kwargs: Any) -> None:
        """No kernel to hold results against here: tests/unit/test_verify.py tests that hook."""


@pytest.fixture
def runtime(tmp_path):
    plugin_dir = tmp_path / "bin"
    plugin_dir.mkdir()
    runtime = LocalRuntime(None, [], tmp_path / "cache", plugin_dir=plugin_dir, timeout=20)  # type: ignore[arg-type]
    runtime.log = tmp_path / "calls.jsonl"
    for name in ("a", "b", "c"):
        runtime.install(name, STUB.format(python=sys.executable, log=str(runtime.log)))
    return runtime


def calls(runtime) -> list[dict]:
    return [json.loads(line) for line in runtime.log.read_text().splitlines()] if runtime.log.exists() else []


def verbs(runtime) -> list[tuple[str, str]]:
    return [(c["cmd"], c["type"]) for c in calls(runtime)]


def conflist(version="1.1.0", *plugins, **keys) -> dict:
    return {"cniVersion": version, "name": "chain", "plugins": list(plugins or [{"type": "a"}, {"type": "b"}]), **keys}


# --- 1. CHECK -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "0.3.0", "0.3.1"])
def test_check_below_0_4_0_is_refused_as_libcni_refuses(runtime, version):
    added = runtime.add(conflist(version), NETNS)
    with pytest.raises(CniRuntimeError, match=f'configuration version "{version}" does not support the CHECK command'):
        runtime.check(added)
    with pytest.raises(CniRuntimeError, match="does not support the CHECK command"):  # version first, then disableCheck
        runtime.check(added.config | {"disableCheck": True}, NETNS, container_id=added.container_id)
    assert "CHECK" not in [verb for verb, _ in verbs(runtime)]


def test_check_says_whether_it_ran(runtime):
    added = runtime.add(conflist(), NETNS)
    assert runtime.check(added) is True
    assert verbs(runtime)[2:] == [("CHECK", "a"), ("CHECK", "b")]
    skipped = runtime.add(conflist(disableCheck=True), NETNS)
    assert runtime.check(skipped) is False
    assert runtime.check(runtime.add(conflist(disableCheck="TRUE"), NETNS)) is False, "libcni's readBool: any case"
    assert [verb for verb, _ in verbs(runtime)].count("CHECK") == 2


def test_a_single_configs_disable_check_is_not_a_list_flag(runtime):
    """libcni's ConfListFromConf keeps only name, cniVersion and the plugin: CHECK runs."""
    added = runtime.add({"cniVersion": "1.0.0", "name": "one", "type": "a", "disableCheck": True}, NETNS)
    assert runtime.check(added) is True
    assert verbs(runtime)[-1] == ("CHECK", "a")


def test_a_disable_check_that_is_not_a_boolean_is_refused(runtime):
    with pytest.raises(CniRuntimeError, match='invalid value "yes" for disableCheck'):
        runtime.add(conflist(disableCheck="yes"), NETNS)
    assert calls(runtime) == []


def test_check_without_a_cached_result_runs_without_prev_result(runtime):
    """libcni's getCachedResult returns no result (and no error) when the file is missing."""
    assert runtime.check(conflist(), NETNS, container_id="never-added") is True
    checks = calls(runtime)
    assert [c["cmd"] for c in checks] == ["CHECK", "CHECK"]
    assert all("prevResult" not in c["conf"] for c in checks)


def test_check_with_a_corrupt_cache_is_refused(runtime):
    added = runtime.add(conflist(), NETNS)
    (runtime.cache_dir / "results" / f"chain-{added.container_id}-eth0").write_text("{garbage")
    with pytest.raises(CniRuntimeError, match="failed to get network 'chain' cached result"):
        runtime.check(added)
    assert "CHECK" not in [verb for verb, _ in verbs(runtime)]


def test_check_and_delete_take_the_same_forms(runtime):
    added = runtime.add(conflist(), NETNS, container_id="cid1", ifname="net1")
    assert runtime.check(conflist(), NETNS, container_id="cid1", ifname="net1") is True
    runtime.delete(conflist(), NETNS, container_id="cid1", ifname="net1")
    later = calls(runtime)[2:]
    assert [(c["cmd"], c["type"]) for c in later] == [("CHECK", "a"), ("CHECK", "b"), ("DEL", "b"), ("DEL", "a")]
    assert all(c["conf"]["prevResult"] == added.result for c in later), "the cache of (chain, cid1, net1)"
    assert runtime.attachments == []
    with pytest.raises(ValueError, match="needs container_id="):
        runtime.check(conflist(), NETNS)
    with pytest.raises(TypeError, match="takes an Attachment or a network config"):
        runtime.delete(None)


# --- 2. a plugin that cannot be run -------------------------------------------------------


def test_exec_error_is_not_a_call_error():
    assert not issubclass(CniExecError, CniCallError)


def test_a_missing_plugin_is_an_exec_error_with_the_attachment(runtime):
    with pytest.raises(CniExecError, match="failed to find plugin 'nowhere'") as failed:
        runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "nowhere"}, NETNS)
    assert (failed.value.plugin, failed.value.command) == ("nowhere", "ADD")
    assert failed.value.attachment is not None and failed.value.attachment.network == "n"
    assert runtime.attachments == [], "nothing ran, so nothing awaits a DEL"


def test_the_first_regular_file_on_the_path_is_the_plugin_even_when_not_executable(runtime, tmp_path):
    """libcni's FindInPath stops at the first regular file; exec then fails on it."""
    later = tmp_path / "later"
    later.mkdir()
    runtime.cni_path.append(str(later))
    runtime.install("p", "exit 0").chmod(0o644)
    (later / "p").write_text("#!/bin/sh\nexit 0\n")
    (later / "p").chmod(0o755)
    with pytest.raises(CniExecError, match="plugin 'p' is not executable"):
        runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "p"}, NETNS)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cniVersion": "1.0.0", "name": "n"}, "the config has no `type`"),
        ({"cniVersion": "1.0.0", "name": "n", "type": ""}, "the config has no `type`"),
        ({"cniVersion": "1.0.0", "name": "n", "type": 7}, "the config has no `type`"),
        ({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a"}, {}]}, r"plugins\[1\]: the config has no"),
        ({"cniVersion": "1.0.0", "name": "n", "type": "../bin/a"}, "invalid plugin name '../bin/a'"),
    ],
)
def test_a_type_that_is_missing_or_not_a_file_name_is_an_exec_error(runtime, config, message):
    with pytest.raises(CniExecError, match=message):
        runtime.add(config, NETNS)
    assert calls(runtime) == [], "libcni loads the whole list first: no plugin runs"


def test_a_plugin_whose_interpreter_is_missing_is_an_exec_error(runtime):
    runtime.install("broken", "#!/nonexistent/interpreter\n")
    with pytest.raises(CniExecError, match="broken ADD: cannot execute"):
        runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "broken"}, NETNS)


def test_nsenters_exec_failure_is_an_exec_error(runtime, monkeypatch):
    """Through nsenter the exec fails in the child: its message and status 126/127 say so."""
    for status in (126, 127):  # not executable, not found
        refuse = f'echo "nsenter: failed to execute $0: x" >&2; exit {status}'
        monkeypatch.setattr(LocalRuntime, "argv", lambda self, exe, refuse=refuse: ["sh", "-c", refuse, str(exe)])
        with pytest.raises(CniExecError, match=r"a ADD: cannot execute .*/a: x") as failed:
            runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "a"}, NETNS)
        assert (failed.value.plugin, failed.value.command) == ("a", "ADD")


@pytest.mark.parametrize(
    ("status", "stdout"), [(1, ""), (0, ""), (127, '{"code": 7, "msg": "a plugin of its own failed"}')]
)
def test_a_plugin_that_ran_is_not_an_exec_error_whatever_its_stderr_says(runtime, status, stdout):
    """Only nsenter's own failure (status 126/127, nothing on stdout) means the plugin never ran."""
    runtime.install("quotes", f"echo 'nsenter: failed to execute /x: y' >&2; printf '{stdout}'; exit {status}")
    output = runtime.call("DEL", {"cniVersion": "1.1.0", "name": "n", "type": "quotes"})
    assert (output.status, output.stdout) == (status, stdout)


FAILURES = {
    "CniCallError": ({"type": "b", "fail": ["ADD"]}, CniCallError),
    "CniSpecViolation": ({"type": "b", "say-on": ["ADD"], "say": "log line"}, CniSpecViolation),
    "CniExecError": ({"type": "missing"}, CniExecError),
    "CniTimeout": ({"type": "b", "slow-on": ["ADD"], "sleep": 30}, CniTimeout),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_every_failed_add_carries_its_attachment_and_awaits_its_del(runtime, failure):
    second, kind = FAILURES[failure]
    runtime.timeout = 2
    with pytest.raises(kind) as failed:
        runtime.add(conflist("1.0.0", {"type": "a"}, second), NETNS, container_id="cid9")
    attachment = failed.value.attachment
    assert (attachment.container_id, attachment.result) == ("cid9", None)
    assert runtime.attachments == [attachment], "a runtime always sends DEL after a failed ADD"
    assert not (runtime.cache_dir / "results" / "chain-cid9-eth0").exists(), "libcni caches only a whole ADD"


# --- 4. GC ---------------------------------------------------------------------------------


def test_gc_deletes_the_stale_cached_attachments_then_gcs_every_plugin(runtime):
    keep = runtime.add(conflist(), NETNS, container_id="keep")
    runtime.add(conflist(), "/var/run/netns/p2", container_id="pair", ifname="net1")
    runtime.add(conflist(), "/var/run/netns/p3", container_id="stale", args={"K": "v"}, capability_args={"x": 1})
    runtime.add({**conflist(), "name": "other"}, NETNS, container_id="stale2")
    before = len(calls(runtime))
    runtime.gc(conflist(), valid=[keep, ("pair", "net1")])
    done = calls(runtime)[before:]
    assert [(c["cmd"], c["type"], c["env"]["CNI_CONTAINERID"]) for c in done] == [
        ("DEL", "b", "stale"),
        ("DEL", "a", "stale"),
        ("GC", "a", ""),
        ("GC", "b", ""),
    ]
    assert done[0]["env"]["CNI_NETNS"] == "/var/run/netns/p3" and done[0]["env"]["CNI_ARGS"] == "K=v", "from the cache"
    listed = [{"containerID": "keep", "ifname": "eth0"}, {"containerID": "pair", "ifname": "net1"}]
    for gc in done[2:]:
        assert gc["conf"]["cni.dev/valid-attachments"] == listed
        assert gc["conf"]["cni.dev/attachments"] == listed
        assert (gc["conf"]["name"], gc["conf"]["cniVersion"]) == ("chain", "1.1.0")
        assert "prevResult" not in gc["conf"] and "runtimeConfig" not in gc["conf"]
    assert sorted(a.container_id for a in runtime.attachments) == ["keep", "pair", "stale2"]
    assert sorted(p.name for p in (runtime.cache_dir / "results").iterdir()) == [
        "chain-keep-eth0",
        "chain-pair-net1",
        "other-stale2-eth0",
    ]


def test_gc_below_1_1_0_still_deletes_stale_attachments_and_disable_gc_skips_both(runtime):
    runtime.add(conflist("1.0.0"), NETNS, container_id="stale")
    runtime.gc(conflist("1.0.0", disableGC=True), valid=[])
    assert [verb for verb, _ in verbs(runtime)] == ["ADD", "ADD"]
    runtime.gc(conflist("1.0.0"), valid=[])
    assert verbs(runtime)[2:] == [("DEL", "b"), ("DEL", "a")], "no GC below 1.1.0"


def test_gc_without_a_valid_list_sends_no_list(runtime):
    runtime.gc(conflist(), valid=None)
    assert [c["cmd"] for c in calls(runtime)] == ["GC", "GC"]
    assert all("cni.dev/valid-attachments" not in c["conf"] for c in calls(runtime))


def test_gc_collects_every_error(runtime):
    failing = conflist("1.1.0", {"type": "a", "fail": ["DEL", "GC"]}, {"type": "b", "fail": ["GC"]})
    runtime.add(failing, NETNS, container_id="stale")
    with pytest.raises(ExceptionGroup) as failed:
        runtime.gc(failing, valid=[])
    errors = failed.value.exceptions
    assert [(type(e), e.plugin, e.command) for e in errors] == [
        (CniCallError, "a", "DEL"),
        (CniCallError, "a", "GC"),
        (CniCallError, "b", "GC"),
    ]
    assert errors[0].__notes__ == ["failed to delete stale attachment stale eth0"]


# --- 5. the environment ----------------------------------------------------------------------


def test_plugins_inherit_the_environment_plus_the_cni_variables(runtime, monkeypatch):
    monkeypatch.setenv("KRAFTY_INHERITED", "yes")
    monkeypatch.setenv("CNI_PATH", "/from/the/caller")
    added = runtime.add(conflist("1.1.0", {"type": "a"}), NETNS, container_id="cid", ifname="net1")
    env = calls(runtime)[0]["env"]
    assert env["KRAFTY_INHERITED"] == "yes"
    assert {k: v for k, v in env.items() if k.startswith("CNI_")} == {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "cid",
        "CNI_NETNS": NETNS,
        "CNI_ARGS": "",
        "CNI_IFNAME": "net1",
        "CNI_PATH": ":".join(runtime.cni_path),
    }
    extra = {"KRAFTY_INHERITED": None, "EXTRA": "1"}
    runtime.check(added, env=extra)
    runtime.status(conflist("1.1.0", {"type": "a"}), env=extra)
    runtime.gc(conflist("1.1.0", {"type": "a"}), valid=[added], env=extra)
    runtime.delete(added, env=extra)
    later = calls(runtime)[1:]
    assert [c["cmd"] for c in later] == ["CHECK", "STATUS", "GC", "DEL"]
    assert all("KRAFTY_INHERITED" not in c["env"] and c["env"]["EXTRA"] == "1" for c in later)
    for empty in (later[1], later[2]):  # STATUS and GC: an empty RuntimeConf
        assert [empty["env"][k] for k in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS")] == [""] * 4


def test_add_env_reaches_every_plugin(runtime):
    runtime.add(conflist(), NETNS, env={"EXTRA": "2", "CNI_IFNAME": None})
    assert [(c["env"]["EXTRA"], "CNI_IFNAME" in c["env"]) for c in calls(runtime)] == [("2", False), ("2", False)]


def test_version_gets_libcnis_dummy_variables(runtime):
    runtime.install("v", 'echo \'{"cniVersion": "1.1.0", "supportedVersions": ["1.1.0"]}\'; env > "$0.env"')
    runtime.version("v")
    env = dict(line.split("=", 1) for line in (runtime.plugin_dir / "v.env").read_text().splitlines() if "=" in line)
    assert {k: v for k, v in env.items() if k.startswith("CNI_")} == {
        "CNI_COMMAND": "VERSION",
        "CNI_CONTAINERID": "",
        "CNI_NETNS": "dummy",
        "CNI_ARGS": "",
        "CNI_IFNAME": "dummy",
        "CNI_PATH": "dummy",
    }


# --- 6. cniVersion and cniVersions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "picked"),
    [
        ({"cniVersions": ["0.4.0", "1.0.0", "2.0.0"]}, "1.0.0"),  # the highest libcni implements (1.1.0)
        ({"cniVersion": "0.4.0", "cniVersions": ["1.0.0"]}, "1.0.0"),
        ({"cniVersion": "1.1.0", "cniVersions": ["0.4.0"]}, "1.1.0"),
        ({"cniVersion": "1.0.0", "cniVersions": ["2.0.0"]}, "1.0.0"),
        ({"cniVersion": "1.0.0", "cniVersions": []}, "1.0.0"),
    ],
)
def test_a_conflists_version_is_picked_as_libcni_picks_it(runtime, keys, picked):
    config = {"name": "chain", "plugins": [{"type": "a"}, {"type": "b"}], **keys}
    added = runtime.add(config, NETNS)
    assert [c["conf"]["cniVersion"] for c in calls(runtime)] == [picked, picked]
    assert added.result["cniVersion"] == picked


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "n", "type": "a"}, "the config has no cniVersion"),
        ({"name": "n", "plugins": [{"type": "a"}]}, "the config has no cniVersion"),
        ({"cniVersions": ["2.0.0"], "name": "n", "plugins": [{"type": "a"}]}, "the config has no cniVersion"),
        ({"cniVersion": "1.0.0-rc1", "name": "n", "type": "a"}, "malformed cniVersion '1.0.0-rc1'"),
        ({"cniVersion": "1.0.0.0", "name": "n", "type": "a"}, "malformed cniVersion '1.0.0.0'"),
        ({"cniVersion": 1, "name": "n", "type": "a"}, "cniVersion must be a string, not 1"),
        ({"cniVersions": ["1.0.0", "x"], "name": "n", "plugins": [{"type": "a"}]}, "malformed cniVersion 'x'"),
        ({"cniVersions": "1.0.0", "name": "n", "plugins": [{"type": "a"}]}, "cniVersions must be a list of strings"),
        ({"cniVersion": "1.0.0", "type": "a"}, "the config has no `name`"),
    ],
)
def test_a_missing_or_malformed_version_is_a_runtime_error(runtime, config, message):
    for verb in (lambda: runtime.add(config, NETNS), lambda: runtime.gc(config), lambda: runtime.status(config)):
        with pytest.raises(CniRuntimeError, match=message):
            verb()
    assert calls(runtime) == []


# --- 7. timeouts ------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_timeout_names_plugin_verb_and_seconds_and_kills_the_process_group(runtime):
    runtime.timeout = 1.5
    started = time.monotonic()
    with pytest.raises(CniTimeout, match=r"^a ADD did not finish within 1.5 s: its process group was killed\n") as late:
        runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "a", "slow-on": ["ADD"]}, NETNS)
    assert time.monotonic() - started < 10
    assert (late.value.plugin, late.value.command, late.value.seconds) == ("a", "ADD", 1.5)
    child = int(Path(f"{runtime.log}.child").read_text())
    # What was still running when time ran out, and what the plugin had said: where it hung.
    assert [line for line in late.value.running if line.startswith(f"{child} `sleep 60` waiting in ")]
    assert len(late.value.running) == 2, late.value.running  # the plugin and its child
    assert late.value.stderr == "slow on purpose\n"
    assert f"\n  still running: {child} `sleep 60` waiting in " in str(late.value)
    assert str(late.value).endswith("\n  its stderr until then:\nslow on purpose")
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the plugin's child outlived the timeout"


def test_a_timeouts_message_has_a_line_per_process_and_no_empty_stderr():
    late = CniTimeout("p", "DEL", 2, running=["1 `a` running", "2 `b` running"], stderr=" \n")
    assert str(late) == (
        "p DEL did not finish within 2 s: its process group was killed"
        "\n  still running: 1 `a` running\n  still running: 2 `b` running"
    )
    assert str(CniTimeout("p", "DEL", 2)) == "p DEL did not finish within 2 s: its process group was killed"


@pytest.mark.parametrize(
    ("cmdline", "wchan", "shown"),
    [
        (b"sleep\x0060\x00", "hrtimer_nanosleep", "`sleep 60` waiting in hrtimer_nanosleep"),
        (b"python3\x00-X\x00", "0", "`python3 -X` running"),  # wchan 0: on a CPU, waiting for nothing
        (b"ip\x00\xff\x00", "", "`ip \ufffd` running"),  # an argument that is not UTF-8
    ],
)
def test_what_a_process_is_doing_comes_from_its_proc_entry(tmp_path, cmdline, wchan, shown):
    proc = tmp_path / "4242"
    proc.mkdir()
    (proc / "cmdline").write_bytes(cmdline)
    (proc / "wchan").write_text(wchan)
    assert doing(proc) == f"4242 {shown}"
    assert doing(tmp_path / "4343") == "4343 (gone)"


# --- 8. cni_kill_at -----------------------------------------------------------------------------


def test_kill_at_passes_args_and_capabilities_and_is_registered(runtime, tmp_path):
    started = tmp_path / "started"
    runtime.install("slow", f"env > {tmp_path}/env; cat > {tmp_path}/stdin; touch {started}; exec sleep 60\n")
    config = {"cniVersion": "1.0.0", "name": "n", "type": "slow", "capabilities": {"portMappings": True}}
    caps = {"portMappings": [{"hostPort": 80}], "bandwidth": {}}
    killed = kill_at(runtime, config, NETNS, started.exists, args={"K8S_POD_NAME": "p"}, capability_args=caps)
    env = (tmp_path / "env").read_text().splitlines()
    assert "CNI_ARGS=K8S_POD_NAME=p" in env and "CNI_COMMAND=ADD" in env
    assert json.loads((tmp_path / "stdin").read_text())["runtimeConfig"] == {"portMappings": [{"hostPort": 80}]}
    assert runtime.attachments == [killed], "the teardown DELs a killed ADD"
    assert (killed.args, killed.capability_args) == ({"K8S_POD_NAME": "p"}, caps)


def test_kill_at_says_when_its_own_deadline_killed_the_plugin(runtime):
    runtime.install("slow", "exec sleep 60\n")
    config = {"cniVersion": "1.0.0", "name": "n", "type": "slow"}
    with pytest.raises(AssertionError, match=r"never reached the milestone within 0\.5 s: the harness killed it"):
        kill_at(runtime, config, NETNS, lambda: False, timeout=0.5)
    assert len(runtime.attachments) == 1


def test_kill_at_says_when_the_plugin_exited_first(runtime):
    with pytest.raises(AssertionError, match="never reached the milestone: it exited with 0 first"):
        kill_at(runtime, {"cniVersion": "1.0.0", "name": "n", "type": "a"}, NETNS, lambda: False)


# --- 9. the smaller promises ----------------------------------------------------------------------


def test_the_attachment_keeps_its_own_copy_of_the_config(runtime):
    config = conflist("1.0.0", {"type": "a", "ipam": {"subnet": "10.0.0.0/24"}})
    added = runtime.add(config, NETNS, args={"K": "v"})
    config["plugins"][0]["ipam"]["subnet"] = "10.9.9.0/24"
    config["name"] = "changed"
    runtime.delete(added)
    deleted = calls(runtime)[-1]
    assert (deleted["cmd"], deleted["conf"]["name"], deleted["conf"]["ipam"]) == (
        "DEL",
        "chain",
        {"subnet": "10.0.0.0/24"},
    )


def test_a_corrupt_cache_does_not_stop_del(runtime):
    """libcni's DelNetworkList: an unreadable cache is removed and DEL runs without prevResult."""
    added = runtime.add(conflist(), NETNS)
    cache = runtime.cache_dir / "results" / f"chain-{added.container_id}-eth0"
    cache.write_text("{garbage")
    runtime.delete(added)
    dels = calls(runtime)[2:]
    assert [c["cmd"] for c in dels] == ["DEL", "DEL"] and all("prevResult" not in c["conf"] for c in dels)
    assert not cache.exists()


def test_an_older_libcnis_cache_holds_the_result_alone(runtime):
    added = runtime.add(conflist(), NETNS)
    cache = runtime.cache_dir / "results" / f"chain-{added.container_id}-eth0"
    legacy = {"cniVersion": "1.1.0", "interfaces": [{"name": "legacy"}], "ips": []}
    cache.write_text(json.dumps(legacy))
    runtime.delete(added)
    assert [c["conf"]["prevResult"] for c in calls(runtime)[2:]] == [legacy, legacy]


def test_del_below_0_4_0_sends_no_cached_result(runtime):
    added = runtime.add(conflist("0.3.1"), NETNS)
    runtime.delete(added)
    assert all("prevResult" not in c["conf"] for c in calls(runtime)[2:])
    assert not (runtime.cache_dir / "results" / f"chain-{added.container_id}-eth0").exists()


def test_the_cache_is_libcnis_format(runtime):
    added = runtime.add(conflist(), NETNS, container_id="cid", ifname="net1")
    path = runtime.cache_dir / "results" / "chain-cid-net1"
    entry = json.loads(path.read_text())
    assert set(entry) == {"kind", "containerId", "config", "ifName", "networkName", "netns", "result"}, "omitempty"
    assert (entry["kind"], entry["containerId"], entry["ifName"], entry["networkName"], entry["netns"]) == (
        "cniCacheV1",
        "cid",
        "net1",
        "chain",
        NETNS,
    )
    assert json.loads(base64.b64decode(entry["config"])) == conflist()
    assert entry["result"] == added.result
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_install_refuses_a_str_that_names_a_file(runtime, tmp_path):
    existing = tmp_path / "plugin"
    existing.write_text("#!/bin/sh\n")
    with pytest.raises(TypeError, match=r"pass Path\("):
        runtime.install("p", str(existing))
    assert runtime.install("p", existing).resolve() == existing
    assert runtime.install("q", "exit 0").read_text() == "#!/bin/sh\nexit 0"


@pytest.mark.parametrize(
    ("command", "output", "rule"),
    [
        ("ADD", CallOutput(0, 'log\n{"cniVersion": "1.1.0"}', ""), "stdout.json-only"),
        ("ADD", CallOutput(0, "", ""), "result.shape"),
        ("ADD", CallOutput(0, '{"cniVersion": "1.1.0", "ips": {}}', ""), "result.shape"),
        ("ADD", CallOutput(1, "", "panic"), "error.object"),
        ("ADD", CallOutput(1, '{"code": "7", "msg": "bad"}', ""), "error.object"),
        ("DEL", CallOutput(0, "{}", ""), "stdout.empty"),
    ],
)
def test_spec_violations_name_plugin_command_and_rule(command, output, rule):
    with pytest.raises(CniSpecViolation) as broken:
        check_answer("p", command, "1.1.0", output)
    assert (broken.value.plugin, broken.value.command, broken.value.rule) == ("p", command, rule)


def test_the_package_exports_what_a_test_needs():
    import krafty.testing

    for name in ("CniExecError", "CniTimeout", "CniRuntimeError", "CniCallError", "CniSpecViolation", "check_answer"):
        assert name in krafty.testing.__all__ and hasattr(krafty.testing, name)


def test_an_attachment_made_by_hand_still_works(runtime):
    """The positional order (config, container_id, ifname, netns) other tests rely on."""
    runtime.add(conflist(), NETNS, container_id="cid", ifname="net1")
    assert runtime.check(Attachment(conflist(), "cid", "net1", NETNS)) is True
    assert os.path.basename(calls(runtime)[-1]["env"]["CNI_NETNS"]) == "pod"


# --- 10. VERSION ----------------------------------------------------------------------------------

ANSWERS = {
    "good": '{"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}',
    "no-list": '{"cniVersion": "1.1.0"}',
    "chatty": "starting up",
}


def test_version_sends_the_version_asked_for(runtime):
    runtime.install("v", f"cat > \"$0.stdin\"\necho '{ANSWERS['good']}'")
    assert runtime.version("v", "1.0.0") == {"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}
    assert json.loads((runtime.plugin_dir / "v.stdin").read_text()) == {"cniVersion": "1.0.0"}
    runtime.version("v")
    assert json.loads((runtime.plugin_dir / "v.stdin").read_text()) == {"cniVersion": "1.1.0"}


@pytest.mark.parametrize(("answer", "rule"), [("no-list", "version.shape"), ("chatty", "stdout.json-only")])
def test_a_bad_version_answer_is_a_spec_violation_naming_plugin_and_rule(runtime, answer, rule):
    runtime.install("v", f"echo '{ANSWERS[answer]}'")
    with pytest.raises(CniSpecViolation) as broken:
        runtime.version("v")
    assert (broken.value.plugin, broken.value.command, broken.value.rule) == ("v", "VERSION", rule)


def test_a_failed_version_is_a_call_error(runtime):
    runtime.install("v", 'echo \'{"code": 2, "msg": "incompatible CNI versions"}\'; exit 1')
    with pytest.raises(CniCallError) as failed:
        runtime.version("v")
    assert (failed.value.plugin, failed.value.command, failed.value.code) == ("v", "VERSION", 2)
    assert failed.value.msg == "incompatible CNI versions"


# --- 11. the exceptions ---------------------------------------------------------------------------


def test_a_call_errors_message_says_plugin_verb_code_msg_and_details_if_any():
    bare = CniCallError("p", "ADD", 7, "bad")
    assert (str(bare), bare.details, bare.stderr, bare.attachment) == ("p ADD: code 7: bad", "", "", None)
    assert str(CniCallError("p", "DEL", 11, "later", "lock held")) == "p DEL: code 11: later (lock held)"


def test_the_exceptions_fields_are_empty_unless_given():
    violation, exec_error = CniSpecViolation("m"), CniExecError("m")
    assert (violation.plugin, violation.command, violation.rule) == ("", "", "")
    assert (exec_error.plugin, exec_error.command) == ("", "")


def test_a_failed_check_or_del_carries_the_attachment(runtime):
    added = runtime.add(conflist("1.1.0", {"type": "a", "fail": ["CHECK", "DEL"]}), NETNS)
    with pytest.raises(CniCallError) as check:
        runtime.check(added)
    with pytest.raises(CniCallError) as delete:
        runtime.delete(added)
    assert check.value.attachment is added and delete.value.attachment is added
    assert (delete.value.details, str(delete.value)) == ("", "a DEL: code 11: a failed"), "no details, none shown"
    runtime.forget(added)


def test_a_plugin_that_cannot_be_run_says_which_verb(runtime):
    runtime.install("broken", "#!/nonexistent/interpreter\n")
    with pytest.raises(CniExecError) as failed:
        runtime.call("DEL", {"cniVersion": "1.0.0", "name": "n", "type": "broken"})
    assert (failed.value.plugin, failed.value.command) == ("broken", "DEL")


LONG_STDERR = "a" * 1000 + "b" * 2000  # the message keeps the last 2000 characters


@pytest.mark.parametrize(
    ("command", "output"),
    [
        ("ADD", CallOutput(1, "", LONG_STDERR)),  # no error object
        ("ADD", CallOutput(0, "x" * 300 + "\u00a7 not json", LONG_STDERR)),  # not JSON
        ("DEL", CallOutput(0, json.dumps("x" * 299 + "\u00a7", ensure_ascii=False), "")),  # DEL printed something
    ],
)
def test_a_violations_message_quotes_the_head_of_stdout_and_the_tail_of_stderr(command, output):
    with pytest.raises(CniSpecViolation) as broken:
        check_answer("p", command, "1.1.0", output)
    message = str(broken.value)
    assert "\u00a7" not in message, "stdout is quoted up to its 300th character"
    if output.stderr:
        assert message.endswith("stderr: " + "b" * 2000)


def test_every_broken_rule_of_an_answer_is_listed():
    answer = {"cniVersion": "1.1.0", "interfaces": {}, "ips": {}}
    with pytest.raises(CniSpecViolation) as broken:
        check_answer("p", "ADD", "1.1.0", CallOutput(0, json.dumps(answer), ""))
    assert str(broken.value) == "p ADD broke the spec: " + "; ".join(result_violations(answer, "1.1.0"))


# --- 12. CHECK and DEL: what reaches the plugins ---------------------------------------------------

PORTS = {"portMappings": [{"hostPort": 80, "containerPort": 8080}]}


def declaring(version="1.1.0") -> dict:
    """A list whose second plugin declares the portMappings capability."""
    return conflist(version, {"type": "a"}, {"type": "b", "capabilities": {"portMappings": True}})


def test_capability_args_reach_check_and_del_as_they_reached_add(runtime):
    added = runtime.add(declaring(), NETNS, capability_args=PORTS)
    runtime.check(added)
    runtime.delete(added)
    assert [(c["cmd"], c["type"], c["conf"].get("runtimeConfig")) for c in calls(runtime)] == [
        ("ADD", "a", None),
        ("ADD", "b", PORTS),
        ("CHECK", "a", None),
        ("CHECK", "b", PORTS),
        ("DEL", "b", PORTS),
        ("DEL", "a", None),
    ]


def test_check_and_delete_by_config_pass_args_and_capabilities(runtime):
    added = runtime.add(declaring(), NETNS, container_id="cid", args={"K": "v"}, capability_args=PORTS)
    runtime.check(declaring(), NETNS, container_id="cid", args={"K": "v"}, capability_args=PORTS)
    runtime.delete(declaring(), NETNS, container_id="cid", args={"K": "v"}, capability_args=PORTS)
    later = calls(runtime)[2:]
    assert [(c["cmd"], c["env"]["CNI_NETNS"], c["env"]["CNI_ARGS"]) for c in later] == [
        ("CHECK", NETNS, "K=v"),
        ("CHECK", NETNS, "K=v"),
        ("DEL", NETNS, "K=v"),
        ("DEL", NETNS, "K=v"),
    ]
    assert [c["conf"].get("runtimeConfig") for c in later] == [None, PORTS, PORTS, None]
    assert all(c["conf"]["prevResult"] == added.result for c in later)


def test_check_and_delete_by_config_default_to_eth0_and_no_netns(runtime):
    """The documented defaults: ifname="eth0" (so the cache of the ADD is found), netns empty."""
    added = runtime.add(conflist(), NETNS, container_id="cid")
    runtime.check(conflist(), container_id="cid")
    runtime.delete(conflist(), container_id="cid")
    later = calls(runtime)[2:]
    assert [(c["env"]["CNI_IFNAME"], c["env"]["CNI_NETNS"]) for c in later] == [("eth0", "")] * 4
    assert all(c["conf"]["prevResult"] == added.result for c in later)
    assert runtime.attachments == []


@pytest.mark.parametrize("verb", ["check", "delete"])
def test_check_and_delete_name_themselves_when_called_wrongly(runtime, verb):
    with pytest.raises(ValueError, match=rf"^{verb}\(config, netns, \.\.\.\) needs container_id=$"):
        getattr(runtime, verb)(conflist(), NETNS)
    with pytest.raises(TypeError, match=rf"^{verb}\(\) takes an Attachment or a network config, not None$"):
        getattr(runtime, verb)(None)


def test_del_at_0_4_0_sends_the_cached_result(runtime):
    """libcni's DelNetworkList reads the cache from 0.4.0 on (GreaterThanOrEqualTo "0.4.0")."""
    added = runtime.add(conflist("0.4.0"), NETNS)
    runtime.delete(added)
    assert [c["conf"].get("prevResult") for c in calls(runtime)[2:]] == [added.result, added.result]


def test_a_cache_that_is_not_a_result_names_its_file(runtime):
    added = runtime.add(conflist(), NETNS)
    cache = runtime.cache_dir / "results" / f"chain-{added.container_id}-eth0"
    for text in ("{garbage", json.dumps({"kind": "cniCacheV1", "result": ["not", "a", "result"]})):
        cache.write_text(text)
        with pytest.raises(CniRuntimeError, match=f"{cache} does not hold a cached result"):
            runtime.check(added)
    assert "CHECK" not in [verb for verb, _ in verbs(runtime)]


def test_the_cache_keeps_args_and_capability_args_in_libcnis_format(runtime):
    added = runtime.add(declaring(), NETNS, container_id="cid", args={"K": "v"}, capability_args=PORTS)
    entry = json.loads((runtime.cache_dir / "results" / "chain-cid-eth0").read_text())
    assert (entry["cniArgs"], entry["capabilityArgs"], entry["result"]) == ([["K", "v"]], PORTS, added.result)


def test_the_attachment_keeps_its_own_copy_of_the_capability_args(runtime):
    caps = {"portMappings": [{"hostPort": 80, "containerPort": 8080}]}
    added = runtime.add(declaring(), NETNS, capability_args=caps)
    caps["portMappings"][0]["hostPort"] = 9999
    runtime.delete(added)
    assert calls(runtime)[-2]["conf"]["runtimeConfig"] == PORTS


# --- 13. GC reads the cache as libcni's GetCachedAttachments ---------------------------------------


def test_gc_passes_over_cache_entries_that_are_not_this_networks_attachments(runtime):
    runtime.add(declaring(), "/var/run/netns/p3", container_id="stale", args={"K": "v"}, capability_args=PORTS)
    results = runtime.cache_dir / "results"
    entry = {"kind": "cniCacheV1", "containerId": "x", "ifName": "eth0", "networkName": "chain"}
    (results / "0-garbage").write_text("{garbage")
    (results / "1-list").write_text("[]")
    (results / "2-other-kind").write_text(json.dumps({**entry, "kind": "cniCacheV2"}))
    (results / "3-no-ifname").write_text(json.dumps({**entry, "ifName": ""}))
    (results / "4-other-network").write_text(json.dumps({**entry, "networkName": "other"}))
    runtime.gc(declaring(), valid=[], env={"EXTRA": "3"})
    dels = [c for c in calls(runtime) if c["cmd"] == "DEL"]
    assert [(c["type"], c["env"]["CNI_CONTAINERID"]) for c in dels] == [("b", "stale"), ("a", "stale")]
    assert [c["conf"].get("runtimeConfig") for c in dels] == [PORTS, None], "capability args from the cache"
    assert all(c["env"]["EXTRA"] == "3" and c["env"]["CNI_ARGS"] == "K=v" for c in dels), "env= reaches the DEL"


def test_gc_reads_a_cache_entrys_missing_fields_as_empty(runtime):
    """Go unmarshals a missing string field as "": the DEL gets an empty container ID and netns."""
    results = runtime.cache_dir / "results"
    results.mkdir(parents=True)
    (results / "chain-x-eth0").write_text(json.dumps({"kind": "cniCacheV1", "ifName": "eth0", "networkName": "chain"}))
    runtime.gc(conflist(), valid=[])
    dels = [c for c in calls(runtime) if c["cmd"] == "DEL"]
    assert [(c["env"]["CNI_CONTAINERID"], c["env"]["CNI_NETNS"]) for c in dels] == [("", ""), ("", "")]


# --- 14. the runtime itself ---------------------------------------------------------------------


def test_a_plugin_call_may_take_300_seconds_by_default(tmp_path):
    assert Runtime(None, [], tmp_path).timeout == 300  # type: ignore[arg-type]


def test_install_needs_a_plugin_directory(tmp_path):
    with pytest.raises(RuntimeError, match=r"^this runtime has no per-test plugin directory$"):
        Runtime(None, [], tmp_path).install("p", "exit 0")  # type: ignore[arg-type]


def test_an_installed_script_is_executable_by_all_and_writable_by_its_owner_only(runtime):
    assert runtime.install("p", "exit 0").stat().st_mode & 0o777 == 0o755


def test_killing_a_group_that_is_gone_is_not_an_error():
    import subprocess

    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    kill_group(gone.pid)


# --- 15. the kernel check after each ADD (krafty.testing.verify) -----------------------------------


def test_every_rule_turned_off_is_kept_for_the_report_once(tmp_path):
    empty = {"cniVersion": "1.1.0", "interfaces": [], "ips": []}
    runtime = FakeRuntime([empty, empty, empty], tmp_path, node_path="/proc/self/ns/net")
    config = {"cniVersion": "1.1.0", "name": "n", "type": "p"}
    runtime.add(config, NETNS, skip_checks={"kernel.mac": "no MAC here"})
    runtime.add(config, NETNS, skip_checks={"kernel.route-in-pod": "no routes here"})
    runtime.add(config, NETNS, skip_checks={"kernel.mac": "no MAC here"})
    assert runtime.checks_off == [("kernel.mac", "no MAC here"), ("kernel.route-in-pod", "no routes here")]


def test_a_result_the_kernel_does_not_bear_out_lists_every_broken_rule(tmp_path):
    liar = {"cniVersion": "1.1.0", "interfaces": [{"name": "eth9", "sandbox": "/nonexistent/other"}], "ips": []}
    runtime = FakeRuntime([liar], tmp_path, node_path="/proc/self/ns/net")
    with pytest.raises(CniSpecViolation) as raised:
        runtime.add({"cniVersion": "1.1.0", "name": "n", "type": "p"}, "/proc/self/ns/net")
    broken = verify.check(liar, "/proc/self/ns/net", "eth0", "/proc/self/ns/net", final=True)
    assert len(broken) > 1
    expected = "p ADD: the result does not match the kernel: " + "; ".join(map(str, broken))
    assert (str(raised.value), raised.value.plugin, raised.value.rule) == (expected, "p", broken[0].rule)
    assert raised.value.attachment is runtime.attachments[0]


# --- 16. cni_kill_at: what it sends, what it says ---------------------------------------------------


def test_kill_at_sends_the_netns_and_container_id_and_defaults_to_eth0(runtime, tmp_path):
    started = tmp_path / "started"
    runtime.install("slow", f"env > {tmp_path}/env; touch {started}; exec sleep 60\n")
    config = {"cniVersion": "1.0.0", "name": "n", "type": "slow"}
    killed = kill_at(runtime, config, NETNS, started.exists, container_id="cid")
    env = (tmp_path / "env").read_text().splitlines()
    assert {"CNI_IFNAME=eth0", "CNI_CONTAINERID=cid", f"CNI_NETNS={NETNS}"} <= set(env)
    assert (killed.ifname, killed.container_id, killed.netns_path) == ("eth0", "cid", NETNS)


def test_kill_at_quotes_the_head_of_stdout_and_the_tail_of_stderr(runtime):
    """Bytes that are not UTF-8 are replaced, not fatal; stdout is cut at 500, stderr keeps its last 2000."""
    runtime.install(
        "talks",
        f"#!{sys.executable}\nimport sys\n"
        'sys.stdout.buffer.write(b"x" * 500 + b"\\xff tail")\n'
        'sys.stderr.buffer.write(b"\\xff" + b"a" * 999 + b"b" * 2000)\n'
        "sys.exit(3)\n",
    )
    with pytest.raises(AssertionError) as failed:
        kill_at(runtime, {"cniVersion": "1.0.0", "name": "n", "type": "talks"}, NETNS, lambda: False)
    assert str(failed.value) == (
        "ADD never reached the milestone: it exited with 3 first\nstdout: " + "x" * 500 + "\nstderr: " + "b" * 2000
    )


def test_kill_at_says_which_signal_ended_the_plugin_first(runtime):
    runtime.install("dies", "echo dying >&2\nkill -TERM $$\n")
    with pytest.raises(AssertionError, match="never reached the milestone: it was killed by signal 15 first") as failed:
        kill_at(runtime, {"cniVersion": "1.0.0", "name": "n", "type": "dies"}, NETNS, lambda: False)
    assert str(failed.value).endswith("\nstderr: dying\n"), "what the plugin said, whole"


def test_kill_at_copes_with_a_plugin_that_reads_none_of_its_stdin(runtime):
    """A config larger than a pipe's buffer, to a plugin that exits unread: no BrokenPipeError."""
    runtime.install("deaf", "exit 0\n")
    config = {"cniVersion": "1.0.0", "name": "n", "type": "deaf", "padding": "x" * 200_000}
    with pytest.raises(AssertionError, match="never reached the milestone: it exited with 0 first"):
        kill_at(runtime, config, NETNS, lambda: False)


def test_kill_at_fails_when_the_plugin_finished_before_the_kill(runtime, tmp_path):
    """The milestone holds only once the plugin has exited: the SIGKILL came too late to count."""
    started, go = tmp_path / "started", tmp_path / "go"
    runtime.install("quick", f"echo $$ > {started}\nwhile [ ! -e {go} ]; do sleep 0.01; done\nexit 0\n")

    def exited() -> bool:
        if not started.exists() or not started.read_text().strip():
            return False
        go.touch()
        pid, deadline = int(started.read_text()), time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return True

    with pytest.raises(AssertionError, match=r"^ADD finished \(status 0\) before SIGKILL reached it\n"):
        kill_at(runtime, {"cniVersion": "1.0.0", "name": "n", "type": "quick"}, NETNS, exited)


def test_kill_at_without_the_group_waits_for_the_children(runtime, tmp_path):
    started, done = tmp_path / "started", tmp_path / "child-done"
    runtime.install("forks", f"(sleep 0.3; touch {done}) &\ntouch {started}\nexec sleep 60\n")
    kill_at(runtime, {"cniVersion": "1.0.0", "name": "n", "type": "forks"}, NETNS, started.exists, group=False)
    assert done.exists(), "the child outlived the plugin and was waited for"


def test_kill_at_without_the_group_kills_children_still_running_at_its_deadline(runtime, tmp_path):
    started, child = tmp_path / "started", tmp_path / "child"
    runtime.install("forks", f"sleep 60 &\necho $! > {child}\ntouch {started}\nexec sleep 60\n")
    config = {"cniVersion": "1.0.0", "name": "n", "type": "forks"}
    with pytest.raises(AssertionError, match=r"^process group \d+ still ran at the deadline and was killed$"):
        kill_at(runtime, config, NETNS, started.exists, group=False, timeout=1)
    pid, deadline = int(child.read_text()), time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the child outlived the deadline"


def test_call_defaults_to_no_container_no_netns_and_eth0(runtime):
    output = runtime.call("ADD", {"cniVersion": "1.1.0", "name": "n", "type": "a"})
    assert output.status == 0
    env = calls(runtime)[0]["env"]
    assert (env["CNI_CONTAINERID"], env["CNI_NETNS"], env["CNI_IFNAME"]) == ("", "", "eth0")


def test_without_a_plugin_directory_cni_path_is_the_path_given(tmp_path):
    runtime = Runtime(None, ["/opt/cni/bin", Path("/usr/lib/cni")], tmp_path)  # type: ignore[arg-type]
    assert runtime.cni_path == ["/opt/cni/bin", "/usr/lib/cni"]
    assert runtime.environment("ADD", "", "", "")["CNI_PATH"] == "/opt/cni/bin:/usr/lib/cni"


def test_a_group_whose_processes_have_all_exited_does_not_run_even_unreaped():
    """Where init reaps orphans late (or never), a killed plugin's finished children linger as
    zombies: cni_kill_at(group=False) must not wait for them until its deadline."""
    import subprocess

    running = subprocess.Popen(["sleep", "60"], start_new_session=True)
    exited = subprocess.Popen(["true"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while alive(exited.pid) and time.monotonic() < deadline:  # a zombie until we reap it
            time.sleep(0.01)
        assert Path(f"/proc/{exited.pid}").exists(), "still unreaped"
        assert (group_running(running.pid), group_running(exited.pid)) == (True, False)
    finally:
        running.kill()
        running.wait()
        exited.wait()
    assert group_running(running.pid) is False


def test_call_sends_bytes_as_given_and_then_needs_the_plugin_named(runtime):
    runtime.install("raw", 'cat > "$0.stdin"')
    runtime.call("ADD", b"\x00not json", plugin="raw")
    assert (runtime.plugin_dir / "raw.stdin").read_bytes() == b"\x00not json"
    with pytest.raises(ValueError, match=r"^call\(\) needs plugin= when the config is not a mapping$"):
        runtime.call("ADD", b"{}")


def test_call_takes_a_netns_object_for_its_path(runtime):
    from krafty.testing.netns import Netns

    runtime.call("ADD", {"cniVersion": "1.1.0", "name": "n", "type": "a"}, netns=Netns.from_path(NETNS))
    assert calls(runtime)[0]["env"]["CNI_NETNS"] == NETNS


def test_a_running_group_is_found_whatever_its_processes_are_called(tmp_path):
    """A process's name in /proc/<pid>/stat is any file name, ") 1 2 3" included."""
    import shutil
    import subprocess

    odd = tmp_path / "x) 1 2 3"
    odd.symlink_to(shutil.which("sleep"))
    running = subprocess.Popen([str(odd), "60"], start_new_session=True)
    try:
        assert group_running(running.pid) is True
    finally:
        running.kill()
        running.wait()


def test_call_reads_output_that_is_not_utf8_with_replacement_characters(runtime):
    runtime.install("binary", "printf '\\377'; printf 'x\\377' >&2")
    output = runtime.call("ADD", {"cniVersion": "1.1.0", "name": "n", "type": "binary"})
    assert (output.status, output.stdout, output.stderr) == (0, "\ufffd", "x\ufffd")


def test_call_env_may_remove_a_variable_that_is_not_set(runtime):
    output = runtime.call("ADD", {"cniVersion": "1.1.0", "name": "n", "type": "a"}, env={"KRAFTY_NEVER_SET": None})
    assert output.status == 0 and "KRAFTY_NEVER_SET" not in calls(runtime)[0]["env"]


def test_cni_args_are_key_value_pairs_separated_by_semicolons(runtime):
    """The spec's CNI_ARGS: "FOO=BAR;ABC=123"."""
    runtime.add(conflist(), NETNS, args={"K8S_POD_NAMESPACE": "ns", "K8S_POD_NAME": "p"})
    assert {c["env"]["CNI_ARGS"] for c in calls(runtime)} == {"K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p"}


def test_plugin_config_gives_a_config_of_its_own():
    from krafty.testing.runtime import network_list, plugin_config

    config = network_list({"cniVersion": "1.1.0", "name": "n", "type": "a", "ipam": {"subnet": "10.0.0.0/24"}})
    conf = plugin_config(config, config["plugins"][0])
    conf["ipam"]["subnet"] = "10.9.9.0/24"
    assert config["plugins"][0]["ipam"] == {"subnet": "10.0.0.0/24"}


def test_a_version_has_one_to_three_parts_the_missing_ones_zero():
    """libcni's ParseVersion: "1" is 1.0.0, "0.3" is 0.3.0."""
    from krafty.testing.runtime import parse_version

    assert [parse_version(v) for v in ("1", "0.3", "0.3.1")] == [(1, 0, 0), (0, 3, 0), (0, 3, 1)]


def test_cni_versions_are_compared_as_numbers_and_named_when_malformed():
    from krafty.testing.runtime import network_list

    plugins = [{"type": "a"}]
    assert network_list({"name": "n", "cniVersions": ["0.4.0", "0.10.0"], "plugins": plugins})["cniVersion"] == "0.10.0"
    with pytest.raises(CniRuntimeError, match=r'^cniVersions must be a list of strings, not "1\.0\.0"$'):
        network_list({"name": "n", "cniVersions": "1.0.0", "plugins": plugins})
    with pytest.raises(CniRuntimeError, match=r"^the config has no cniVersion \(libcni would run it as 0\.1\.0"):
        network_list({"name": "n", "plugins": plugins})


def test_disable_check_false_in_any_case_lets_check_run(runtime):
    assert runtime.check(runtime.add(conflist(disableCheck="False"), NETNS)) is True


def test_plugin_config_gives_a_prev_result_of_its_own():
    from krafty.testing.runtime import plugin_config

    prev = {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]}
    conf = plugin_config({"name": "n", "cniVersion": "1.1.0"}, {"type": "a"}, prev)
    conf["prevResult"]["ips"].clear()
    assert prev["ips"] == [{"address": "10.0.0.2/24"}]


def test_a_network_config_that_is_not_an_object_is_refused_by_name():
    from krafty.testing.runtime import network_list

    with pytest.raises(CniRuntimeError, match=r"^a network config is a JSON object \(a dict\), not list$"):
        network_list([{"type": "a"}])  # type: ignore[arg-type]
