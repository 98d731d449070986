"""The harness's own promises, checked with recording stub plugins (no VRF needed: these run
on any kernel). Expected values come from libcni's behaviour and the spec, written out here.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from krafty.testing import CniCallError, CniExecError, CniTimeout
from tests import inner_pytest

# A plugin that logs each call (verb, its type, stdin, CNI_* variables) and answers ADD with
# the prevResult it got plus its type in dns.search (it makes no device, so it lists none).
STUB = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    conf = json.load(sys.stdin)
    env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
    with open({log!r}, "a") as log:
        log.write(json.dumps({{"type": conf.get("type"), "conf": conf, "env": env}}) + "\\n")
    if env["CNI_COMMAND"] == "ADD":
        result = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "ips": [], "dns": {{"search": []}}}}
        result["dns"]["search"].append(conf["type"])
        print(json.dumps(result))
    elif env["CNI_COMMAND"] == "VERSION":
        print(json.dumps({{"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}}))
    elif env["CNI_COMMAND"] == "DEL" and os.path.exists({log!r} + ".fail-del"):
        print(json.dumps({{"code": 11, "msg": "try again later"}}))
        sys.exit(1)
    """
)


@pytest.fixture
def stubs(cni_runtime, tmp_path):
    """Installs stub plugins a, b, c; returns a reader of their log."""
    log = tmp_path / "calls.jsonl"
    for name in ("a", "b", "c"):
        cni_runtime.install(name, STUB.format(python=sys.executable, log=str(log)))

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    calls.log = log
    return calls


CONFLIST = {
    "cniVersion": "1.1.0",
    "name": "chain",
    "plugins": [
        {"type": "a"},
        {"type": "b", "capabilities": {"portMappings": True}},
        {"type": "c", "capabilities": {"bandwidth": False}},
    ],
}


def test_a_conflist_runs_as_libcni_runs_it(cni_runtime, cni_netns, stubs):
    pod = cni_netns()
    caps = {"portMappings": [{"hostPort": 80, "containerPort": 8080}], "bandwidth": {"ingressRate": 1}}
    attachment = cni_runtime.add(CONFLIST, pod, container_id="c0ffee", ifname="net9", args={"K8S_POD_NAME": "p"},
                                 capability_args=caps)  # fmt: skip
    adds = stubs()
    assert [c["type"] for c in adds] == ["a", "b", "c"]
    assert all(c["conf"]["name"] == "chain" and c["conf"]["cniVersion"] == "1.1.0" for c in adds)
    assert "prevResult" not in adds[0]["conf"]
    assert adds[2]["conf"]["prevResult"]["dns"]["search"] == ["a", "b"], "prevResult chained"
    assert adds[1]["conf"]["runtimeConfig"] == {"portMappings": caps["portMappings"]}, "only declared capabilities"
    assert "runtimeConfig" not in adds[0]["conf"] and "runtimeConfig" not in adds[2]["conf"]
    assert adds[0]["env"] == {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "c0ffee",
        "CNI_NETNS": pod.path,
        "CNI_IFNAME": "net9",
        "CNI_ARGS": "K8S_POD_NAME=p",
        "CNI_PATH": ":".join(cni_runtime.cni_path),
    }
    assert attachment.result["dns"]["search"] == ["a", "b", "c"]

    cache = cni_runtime.cache_dir / "results" / "chain-c0ffee-net9"
    entry = json.loads(cache.read_text())
    assert entry["kind"] == "cniCacheV1" and entry["result"] == attachment.result
    assert (entry["containerId"], entry["ifName"], entry["networkName"]) == ("c0ffee", "net9", "chain")
    assert json.loads(base64.b64decode(entry["config"]))["plugins"] == CONFLIST["plugins"]

    cni_runtime.check(attachment)
    cni_runtime.delete(attachment)
    later = stubs()[3:]
    assert [(c["env"]["CNI_COMMAND"], c["type"]) for c in later] == [
        ("CHECK", "a"), ("CHECK", "b"), ("CHECK", "c"), ("DEL", "c"), ("DEL", "b"), ("DEL", "a"),
    ]  # fmt: skip
    assert all(c["conf"]["prevResult"] == attachment.result for c in later), "CHECK and DEL get the cached result"
    assert not cache.exists(), "DEL drops the cache"


def test_disable_check_gc_and_status_and_version(cni_runtime, stubs):
    assert cni_runtime.check(cni_runtime.add({**CONFLIST, "disableCheck": True}, "/proc/self/ns/net")) is False
    assert "CHECK" not in [c["env"]["CNI_COMMAND"] for c in stubs()]
    keep = cni_runtime.attachments[0]
    cni_runtime.gc({**CONFLIST, "disableGC": True}, valid=[keep])
    assert "GC" not in [c["env"]["CNI_COMMAND"] for c in stubs()]
    cni_runtime.gc(CONFLIST, valid=[keep])
    gcs = [c for c in stubs() if c["env"]["CNI_COMMAND"] == "GC"]
    assert [c["type"] for c in gcs] == ["a", "b", "c"]
    valid = [{"containerID": keep.container_id, "ifname": "eth0"}]
    assert all(c["conf"]["cni.dev/valid-attachments"] == c["conf"]["cni.dev/attachments"] == valid for c in gcs)
    cni_runtime.status(CONFLIST)
    assert [c["type"] for c in stubs() if c["env"]["CNI_COMMAND"] == "STATUS"] == ["a", "b", "c"]
    assert cni_runtime.version("a")["supportedVersions"] == ["0.4.0", "1.0.0", "1.1.0"]


def test_del_stops_at_the_first_error_and_keeps_the_attachment(cni_runtime, stubs):
    attachment = cni_runtime.add(CONFLIST, "/proc/self/ns/net")
    Path(str(stubs.log) + ".fail-del").touch()
    with pytest.raises(CniCallError) as failed:
        cni_runtime.delete(attachment)
    assert (failed.value.plugin, failed.value.code, failed.value.msg) == ("c", 11, "try again later")
    assert [c["type"] for c in stubs() if c["env"]["CNI_COMMAND"] == "DEL"] == ["c"]
    assert attachment in cni_runtime.attachments, "a failed DEL leaves the attachment for a retry"
    Path(str(stubs.log) + ".fail-del").unlink()  # so that the teardown's DEL succeeds


def test_kill_at_fails_when_the_milestone_is_never_reached(cni_runtime, cni_kill_at, stubs):
    with pytest.raises(AssertionError, match="never reached the milestone"):
        cni_kill_at({**CONFLIST, "plugins": [{"type": "a"}]}, "/proc/self/ns/net", lambda: False)


def test_kill_at_kills_at_the_milestone_and_says_so(cni_runtime, cni_kill_at, tmp_path):
    started = tmp_path / "started"
    cni_runtime.install("slow", f'[ "$CNI_COMMAND" = ADD ] || exit 0\ntouch {started}\nexec sleep 60\n')
    attachment = cni_kill_at({"cniVersion": "1.0.0", "name": "n", "type": "slow"}, "/x", started.exists)
    assert attachment.container_id and attachment.result is None
    assert cni_runtime.attachments == [attachment], "the teardown sends its DEL"


FORKS = "(sleep 1; touch {}) &\ntouch {}\nexec sleep 60\n"


def test_kill_at_kills_the_plugins_children_with_it(cni_runtime, cni_kill_at, tmp_path):
    """As a runtime killing the plugin's cgroup: an IPAM child dies with the plugin."""
    started, child_done = tmp_path / "started", tmp_path / "child-done"
    cni_runtime.install("forks", f'[ "$CNI_COMMAND" = ADD ] || exit 0\n{FORKS.format(child_done, started)}')
    cni_kill_at({"cniVersion": "1.0.0", "name": "n", "type": "forks"}, "/x", started.exists)
    time.sleep(2)
    assert not child_done.exists(), "the plugin's child survived the kill"


def test_kill_at_without_the_group_waits_for_the_plugins_children(cni_runtime, cni_kill_at, tmp_path):
    started, child_done = tmp_path / "started", tmp_path / "child-done"
    cni_runtime.install("forks", f'[ "$CNI_COMMAND" = ADD ] || exit 0\n{FORKS.format(child_done, started)}')
    cni_kill_at({"cniVersion": "1.0.0", "name": "n", "type": "forks"}, "/x", started.exists, group=False)
    assert child_done.exists(), "the child outlived the plugin and was waited for"


def test_assert_clean_names_what_is_left(cni_node, cni_netns, cni_assert_clean, tmp_path):
    pod = cni_netns()
    pod.run("ip", "link", "add", "name", "leftover0", "type", "bridge")
    cni_node.run("ip", "route", "add", "blackhole", "10.9.0.0/16", "table", "77")
    (tmp_path / "ipam" / "net").mkdir(parents=True)
    (tmp_path / "ipam" / "net" / "10.0.0.7").write_text("c0ffee")
    (tmp_path / "ipam" / "net" / "lock").write_text("")
    with pytest.raises(AssertionError) as dirty:
        cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])
    text = str(dirty.value)
    assert "links left: leftover0 (bridge)" in text
    assert "10.9.0.0/16 table 77" in text
    assert "net/10.0.0.7" in text and "net/lock" not in text


def run_pytest(directory: Path, source: str, *args: str, conftest: str = "", **env: str) -> subprocess.CompletedProcess:
    """Quiet, so that the tests below read pytest's summary lines."""
    return inner_pytest.run_pytest(directory, source, "-q", *args, conftest=conftest, **env)


def test_teardown_deletes_what_the_test_left_attached_and_fails_if_that_fails(tmp_path):
    log = tmp_path / "calls.jsonl"
    source = f"""
        import sys
        STUB = {STUB.format(python=sys.executable, log=str(log))!r}

        def test_leaves_it(cni_runtime):
            cni_runtime.install("a", STUB)
            cni_runtime.add({{"cniVersion": "1.0.0", "name": "n", "type": "a"}}, "/proc/self/ns/net")
    """
    done = run_pytest(tmp_path, source)
    assert done.returncode == 0, done.stdout
    assert [json.loads(line)["env"]["CNI_COMMAND"] for line in log.read_text().splitlines()] == ["ADD", "DEL"]
    Path(f"{log}.fail-del").touch()
    failed = run_pytest(tmp_path, source)
    assert failed.returncode == 1 and "DEL at teardown failed" in failed.stdout, failed.stdout


# A shell plugin that logs "<verb> <its name>" and answers ADD; its DEL does what it is told.
LOGGED = """echo "$CNI_COMMAND ${{0##*/}}" >> {log}
case "$CNI_COMMAND" in
ADD) echo '{{"cniVersion": "1.0.0"}}' ;;
DEL) {on_del} ;;
esac
"""


def test_teardown_deletes_every_attachment_and_reports_every_failure(tmp_path):
    """One DEL that fails, whatever it raises, stops no other; each failure is listed."""
    log = tmp_path / "calls.log"
    plugins = {
        "refuses": """echo '{"code": 11, "msg": "busy"}'; exit 1""",
        "ok": "exit 0",
        "talks": "echo chatter",
    }
    source = f"""
        PLUGINS = { ({name: LOGGED.format(log=log, on_del=on_del) for name, on_del in plugins.items()})!r}

        def test_leaves_three(cni_runtime):
            assert list(cni_runtime.plugin_dir.iterdir()) == [], "the harness installs no plugin of its own"
            for name, script in PLUGINS.items():
                cni_runtime.install(name, script)
                cni_runtime.add({{"cniVersion": "1.0.0", "name": name, "type": name}}, "/proc/self/ns/net")
    """
    done = run_pytest(tmp_path, source)
    assert log.read_text().splitlines() == [
        "ADD refuses", "ADD ok", "ADD talks", "DEL talks", "DEL ok", "DEL refuses",
    ]  # fmt: skip
    assert done.returncode == 1 and "DEL at teardown failed" in done.stdout, done.stdout
    assert "CniSpecViolation: talks DEL: stdout must carry only JSON" in done.stdout, done.stdout
    assert "CniCallError: refuses DEL: code 11: busy" in done.stdout, done.stdout


def test_a_failed_chain_is_deleted_at_teardown_and_its_reservation_released(tmp_path):
    """Debian's bridge + host-local, then a plugin that fails ADD: CRI's DEL after the failed ADD
    (the fixture's, at teardown) releases the address host-local reserved."""
    store = tmp_path / "ipam"
    conflist = {
        "cniVersion": "1.0.0",
        "name": "failchain",
        "plugins": [
            {"type": "bridge", "bridge": "cni-fail0", "ipam": {"type": "host-local", "subnet": "10.250.9.0/24",
                                                               "dataDir": str(store)}},
            {"type": "fails"},
        ],
    }  # fmt: skip
    source = f"""
        import pytest
        from pathlib import Path
        from krafty.testing import CniCallError

        FAILS = '[ "$CNI_COMMAND" = ADD ] && {{ echo \\'{{"code": 11, "msg": "no"}}\\'; exit 1; }}\\nexit 0\\n'

        def test_second_plugin_fails(cni_runtime, cni_netns):
            cni_runtime.install("fails", FAILS)
            with pytest.raises(CniCallError) as failed:
                cni_runtime.add({conflist!r}, cni_netns())
            assert failed.value.plugin == "fails"
            assert cni_runtime.attachments == [failed.value.attachment]
            assert [p.name for p in Path({str(store / "failchain")!r}).iterdir() if p.name.startswith("10.")]
    """
    done = run_pytest(tmp_path, source)
    assert done.returncode == 0, done.stdout
    assert [p.name for p in (store / "failchain").iterdir() if p.name.startswith("10.")] == [], "reservation left"


def test_a_plugin_that_cannot_be_executed_is_an_exec_error_not_a_call_error(cni_runtime, cni_netns):
    cni_runtime.install("broken", "#!/nonexistent/interpreter\n")
    with pytest.raises(CniExecError, match=r"broken ADD: cannot execute .*broken: No such file or directory"):
        cni_runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "broken"}, cni_netns())
    with pytest.raises(CniExecError, match="failed to find plugin 'nowhere'") as missing:
        cni_runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "nowhere"}, cni_netns())
    assert not isinstance(missing.value, CniCallError) and missing.value.attachment is not None
    assert cni_runtime.attachments == [], "no plugin ran: nothing to DEL"


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def test_a_timeout_kills_the_plugins_process_group(cni_runtime, cni_netns, tmp_path):
    pid_file = tmp_path / "child.pid"
    script = f'[ "$CNI_COMMAND" = ADD ] || exit 0\nsleep 60 &\necho $! > {pid_file}\nexec sleep 60\n'
    cni_runtime.install("slow", script)
    cni_runtime.timeout = 1
    killed = r"^slow ADD did not finish within 1 s: its process group was killed\n"
    with pytest.raises(CniTimeout, match=killed) as late:
        cni_runtime.add({"cniVersion": "1.0.0", "name": "n", "type": "slow"}, cni_netns())
    child = int(pid_file.read_text())
    # What was running then, and where it waited: where the plugin hung.
    waits = [line.split(" waiting in ")[0] for line in late.value.running]  # the kernel function varies
    assert len(waits) == 2 and f"{child} `sleep 60`" in waits, waits  # the plugin (exec'd sleep) and its child
    assert all(wait.endswith(" `sleep 60`") for wait in waits), waits
    assert f"\n  still running: {child} `sleep 60` waiting in " in str(late.value)
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child), "the plugin's child (an IPAM plugin, say) outlived the timeout"


def test_a_namespace_that_cannot_be_removed_is_reported(tmp_path):
    """An `ip` that refuses `netns delete`: the fixture must fail the test, not ignore it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ip").write_text(
        '#!/bin/sh\n[ "$1 $2" = "netns delete" ] && { echo busy >&2; exit 1; }\nexec /sbin/ip "$@"\n'
    )
    (bin_dir / "ip").chmod(0o755)
    made = tmp_path / "made"
    done = run_pytest(
        tmp_path,
        f"""
        from pathlib import Path

        def test_makes_one(cni_netns):
            Path({str(made)!r}).write_text(cni_netns().name)
        """,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )
    subprocess.run(["ip", "netns", "delete", made.read_text()], check=True)  # only what the refused delete left
    assert done.returncode == 1, done.stdout
    assert "namespaces not removed" in done.stdout and "busy" in done.stdout, done.stdout
