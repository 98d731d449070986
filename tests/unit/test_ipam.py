"""IPAM delegation against a real executable on a temporary CNI_PATH."""

import json
import os
import sys
from pathlib import Path

import pytest

from krafty import config, ipam
from krafty.types import INCOMPATIBLE_VERSION, INVALID_ENVIRONMENT, IPAM_FAILED, CniError, Invocation

FAKE = Path(__file__).with_name("fake_ipam.py")


@pytest.fixture
def cni_path(tmp_path):
    """A CNI_PATH holding the fake plugin as `fake-ipam`, run by this interpreter."""
    directory = tmp_path / "bin"
    directory.mkdir()
    plugin = directory / "fake-ipam"
    plugin.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    plugin.chmod(0o755)
    return directory


def setup(tmp_path, cni_path, version="1.1.0", supported=("1.1.0",), **ipam_options):
    (cni_path / "fake-ipam.versions").write_text(" ".join(supported))
    doc = {
        "cniVersion": version,
        "name": "krafty",
        "type": "krafty",
        "subnet": "172.16.10.0/24",
        "gateway": "172.16.10.1",
        "ipam": {"type": "fake-ipam", "dataDir": str(tmp_path), **ipam_options},
    }
    conf = config.parse(json.dumps(doc).encode())
    env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_PATH": f"/nonexistent:{cni_path}"}
    return conf, Invocation("ADD", "c1", "/run/netns/x", "net1", ("/nonexistent", str(cni_path)), env)


def calls(tmp_path):
    """What the fake plugin was asked, one "COMMAND cniVersion containerID" per call."""
    log = tmp_path / "calls"
    return log.read_text().splitlines() if log.exists() else []


def test_add_execs_the_plugin_with_the_whole_config_and_parses_its_result(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path)
    plugin = ipam.find(conf, invocation)
    result = ipam.add(plugin, conf, invocation)
    assert str(result.ips[0].address) == "172.16.10.10/24"
    assert [str(r.dst) for r in result.routes] == ["0.0.0.0/0", "10.96.0.0/12"]
    assert result.dns == {"nameservers": ["10.96.0.10"]}
    assert calls(tmp_path) == ["ADD 1.1.0 c1"]


def test_an_older_plugin_is_called_in_the_highest_common_version(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path, supported=["0.3.0", "0.3.1", "0.4.0", "1.0.0"])
    plugin = ipam.find(conf, invocation)
    assert plugin.version == "1.0.0"
    ipam.add(plugin, conf, invocation)
    ipam.delete(plugin, conf, invocation)
    ipam.gc(plugin, conf, invocation)  # 1.0.0 has no GC: nothing is sent
    assert calls(tmp_path) == ["ADD 1.0.0 c1", "DEL 1.0.0 c1"]


def test_legacy_results_with_ip_versions_parse(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path, version="0.3.1", supported=["0.3.1"])
    result = ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert str(result.ips[0].address) == "172.16.10.10/24"


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("0.4.0", ["0.1.0", "0.2.0"]),
        ("1.0.0", ["1.1.0"]),  # a plugin is never called in a version newer than the config's
    ],
)
def test_no_common_version_is_error_1(tmp_path, cni_path, version, supported):
    conf, invocation = setup(tmp_path, cni_path, version=version, supported=supported)
    with pytest.raises(CniError) as caught:
        ipam.find(conf, invocation)
    assert caught.value.code == INCOMPATIBLE_VERSION
    assert caught.value.msg == f"IPAM plugin fake-ipam supports none of the versions up to {version}"
    assert caught.value.details == ", ".join(supported)


@pytest.mark.parametrize("answer", ["[]", "{}", '{"supportedVersions": "1.1.0"}'])
def test_a_version_answer_without_supported_versions_is_103(tmp_path, cni_path, answer):
    conf, invocation = setup(tmp_path, cni_path)
    (cni_path / "fake-ipam").write_text(f"#!/bin/sh\necho '{answer}'\n")
    with pytest.raises(CniError) as caught:
        ipam.find(conf, invocation)
    assert caught.value.code == IPAM_FAILED
    assert caught.value.msg == "IPAM plugin fake-ipam answered VERSION without supportedVersions"


@pytest.mark.parametrize(
    ("version", "sent"),
    [
        ("0.3.1", []),
        ("0.4.0", ["CHECK 0.4.0 c1"]),  # CHECK exists from 0.4.0 on
        ("1.0.0", ["CHECK 1.0.0 c1"]),
        ("1.1.0", ["CHECK 1.1.0 c1", "GC 1.1.0 c1", "STATUS 1.1.0 c1"]),  # GC and STATUS from 1.1.0 on
        ("0.10.0", ["CHECK 0.10.0 c1"]),  # not a real version: "0.10.0" < "0.4.0" only as strings
    ],
)
def test_check_gc_and_status_reach_the_plugin_only_in_versions_that_have_them(tmp_path, cni_path, version, sent):
    conf, invocation = setup(tmp_path, cni_path)
    plugin = ipam.IpamPlugin(cni_path / "fake-ipam", version)
    ipam.check(plugin, conf, invocation)
    ipam.gc(plugin, conf, invocation)
    ipam.status(plugin, conf, invocation)
    assert calls(tmp_path) == sent


@pytest.mark.parametrize(
    ("code", "msg"),
    [
        (11, "try again later"),
        # What host-local says when its range is exhausted: Go's skel gives any plain error 999.
        (999, "failed to allocate for range 0: no IP addresses available in range set: 172.16.10.10-172.16.10.250"),
    ],
)
def test_the_plugins_error_object_is_passed_on_with_its_code(tmp_path, cni_path, code, msg):
    conf, invocation = setup(tmp_path, cni_path, fail={"code": code, "msg": msg, "details": "d"})
    with pytest.raises(CniError) as caught:
        ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert (caught.value.code, caught.value.details) == (code, "d")
    assert msg in caught.value.msg
    assert "fake-ipam" in caught.value.msg, "the message must say the error is the IPAM plugin's"


@pytest.mark.parametrize(
    "behaviour",
    [
        {"exit": 3},  # nothing on stdout
        {"fail": {"msg": "an object without a code"}},
        {"fail": {"code": "11", "msg": "a code that is not a number"}},
    ],
)
def test_a_plugin_failing_without_an_error_object_is_103(tmp_path, cni_path, behaviour):
    conf, invocation = setup(tmp_path, cni_path, **behaviour)
    with pytest.raises(CniError) as caught:
        ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert caught.value.code == IPAM_FAILED
    assert "fake-ipam ADD exited with" in caught.value.msg


NO_POD = "returned an address no pod can have"  # then why, in the words the config's checks use


@pytest.mark.parametrize(
    ("ips", "mentions"),
    [
        ([], "returned no IPv4 address"),
        ([{"address": "fd00::5/64"}], "returned no IPv4 address"),
        ([{"address": "10.9.9.9/24"}], f"{NO_POD}: 10.9.9.9 is outside subnet 172.16.10.0/24"),
        ([{"address": "172.16.10.1/24"}], f"{NO_POD}: 172.16.10.1 is the gateway"),
        (
            [{"address": "172.16.10.0/24"}],
            f"{NO_POD}: 172.16.10.0 is the network or broadcast address of 172.16.10.0/24",
        ),
        (
            [{"address": "172.16.10.255/24"}],
            f"{NO_POD}: 172.16.10.255 is the network or broadcast address of 172.16.10.0/24",
        ),
        ([{"address": "nonsense"}], "ADD returned an unusable result"),
    ],
)
def test_an_unusable_allocation_is_103(tmp_path, cni_path, ips, mentions):
    conf, invocation = setup(tmp_path, cni_path, ips=ips)
    with pytest.raises(CniError) as caught:
        ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert caught.value.code == IPAM_FAILED
    assert f"IPAM plugin fake-ipam {mentions}" in caught.value.msg


def test_an_unparsable_result_says_why_in_the_details(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path, ips=[{"address": "nonsense"}])
    with pytest.raises(CniError) as caught:
        ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert caught.value.details == "not a CNI result: Expected 4 octets in 'nonsense'"  # ipaddress's own words


def test_a_plugin_that_hangs_is_stopped(tmp_path, cni_path, monkeypatch):
    monkeypatch.setattr(ipam, "TIMEOUT_SECONDS", 0.5)
    conf, invocation = setup(tmp_path, cni_path)
    plugin = shell_plugin(cni_path, "#!/bin/sh\nexec sleep 30\n")
    with pytest.raises(CniError) as caught:
        ipam.add(plugin, conf, invocation)
    assert (caught.value.code, caught.value.msg) == (IPAM_FAILED, "IPAM plugin sh-ipam ADD could not run")
    assert "timed out after 0.5 seconds" in caught.value.details


@pytest.mark.parametrize("address", ["172.16.10.2/24", "172.16.10.254/24"])
def test_the_hosts_next_to_the_gateway_and_the_broadcast_are_usable(tmp_path, cni_path, address):
    conf, invocation = setup(tmp_path, cni_path, ips=[{"address": address}])
    result = ipam.add(ipam.find(conf, invocation), conf, invocation)
    assert [str(ip.address) for ip in result.ips] == [address]


def test_garbage_output_is_an_ipam_failure(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path, garbage=True)
    plugin = ipam.IpamPlugin(cni_path / "fake-ipam", "1.1.0")
    with pytest.raises(CniError) as caught:
        ipam.add(plugin, conf, invocation)
    assert caught.value.code == IPAM_FAILED
    assert caught.value.msg == "IPAM plugin fake-ipam ADD printed something that is not JSON"


def shell_plugin(cni_path: Path, script: str) -> ipam.IpamPlugin:
    """A plugin that is a shell script, called directly (no VERSION negotiation)."""
    path = cni_path / "sh-ipam"
    path.write_text(script)
    path.chmod(0o755)
    return ipam.IpamPlugin(path, "1.1.0")


@pytest.mark.parametrize(
    ("stdout", "exit_status", "msg"),
    [
        ("", 2, "IPAM plugin sh-ipam ADD exited with 2"),
        ("not json", 0, "IPAM plugin sh-ipam ADD printed something that is not JSON"),
    ],
)
def test_the_plugins_stderr_is_the_errors_details(tmp_path, cni_path, stdout, exit_status, msg):
    conf, invocation = setup(tmp_path, cni_path)
    plugin = shell_plugin(
        cni_path, f"#!/bin/sh\necho '{stdout}'\nprintf ' it broke \\377\\n' >&2\nexit {exit_status}\n"
    )
    with pytest.raises(CniError) as caught:
        ipam.add(plugin, conf, invocation)
    assert (caught.value.code, caught.value.msg) == (IPAM_FAILED, msg)
    assert caught.value.details == "it broke \ufffd"  # stripped, undecodable bytes replaced


def test_a_plugin_that_cannot_be_executed_is_103(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path)
    plugin = shell_plugin(cni_path, "#!/nonexistent/interpreter\n")
    with pytest.raises(CniError) as caught:
        ipam.add(plugin, conf, invocation)
    assert (caught.value.code, caught.value.msg) == (IPAM_FAILED, "IPAM plugin sh-ipam ADD could not run")
    assert "No such file or directory" in caught.value.details


def test_a_missing_or_non_executable_plugin_is_an_ipam_failure(tmp_path, cni_path):
    conf, invocation = setup(tmp_path, cni_path)
    os.chmod(cni_path / "fake-ipam", 0o644)
    with pytest.raises(CniError) as caught:
        ipam.find(conf, invocation)
    assert caught.value.code == IPAM_FAILED
    assert caught.value.msg == "IPAM plugin 'fake-ipam' not found as an executable in CNI_PATH"
    assert caught.value.details == f"/nonexistent:{cni_path}"
    (cni_path / "fake-ipam").unlink()
    with pytest.raises(CniError):
        ipam.find(conf, invocation)


def test_missing_cni_path_is_error_4(tmp_path, cni_path):
    conf, _ = setup(tmp_path, cni_path)
    with pytest.raises(CniError) as caught:
        ipam.find(conf, Invocation("ADD", "c1", "/x", "net1", (), {}))
    assert (caught.value.code, caught.value.msg) == (
        INVALID_ENVIRONMENT,
        "CNI_PATH is required to find the IPAM plugin",
    )
    assert caught.value.details == "fake-ipam"


def test_a_path_in_ipam_type_is_never_executed(tmp_path, cni_path):
    doc = {
        "cniVersion": "1.0.0",
        "name": "n",
        "type": "krafty",
        "subnet": "10.0.0.0/24",
        "gateway": "10.0.0.1",
        "ipam": {"type": f"../{cni_path.name}/fake-ipam"},
    }
    with pytest.raises(CniError):
        config.parse(json.dumps(doc).encode())


def test_the_ipam_plugin_dies_with_krafty(tmp_path):
    """A runtime whose call times out kills krafty alone: the IPAM plugin must not live on
    to allocate after the runtime's DEL (PR_SET_PDEATHSIG)."""
    import os
    import signal
    import time

    from krafty.ipam import _exec

    started, finished = tmp_path / "started", tmp_path / "finished"
    plugin = tmp_path / "slow-ipam"
    plugin.write_text(f"#!/bin/sh\ntouch {started}\nsleep 2\ntouch {finished}\n")
    plugin.chmod(0o755)
    quick = tmp_path / "quick-ipam"
    quick.write_text("#!/bin/sh\n")
    quick.chmod(0o755)
    _exec(quick, "ADD", {}, Invocation("ADD"))  # here too, so mutation testing sees this test use _exec
    pid = os.fork()
    if pid == 0:  # krafty, running its IPAM plugin
        try:
            _exec(plugin, "ADD", {}, Invocation("ADD"))
        finally:
            os._exit(0)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists(), "the IPAM plugin never started"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    time.sleep(3)
    assert not finished.exists(), "the IPAM plugin outlived krafty"
