"""The protocol in-process: environment, VERSION, errors and results, with fake verbs."""

import io
import json
import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from krafty import skel, types
from krafty.types import Interface, IPConfig, Result, Route

ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": "c0ffee",
    "CNI_NETNS": "/var/run/netns/pod",
    "CNI_IFNAME": "net1",
    "CNI_PATH": "/opt/cni/bin",
}
CONF = {
    "cniVersion": "1.1.0",
    "name": "krafty",
    "type": "krafty",
    "subnet": "172.16.10.0/24",
    "gateway": "172.16.10.1",
    "podIP": "172.16.10.7",
}
RESULT = Result(
    interfaces=(
        Interface("krbc0ffee", "02:6b:00:00:00:01"),
        Interface("vethc0ffee", "aa:bb:cc:dd:ee:ff"),
        Interface("net1", "aa:bb:cc:dd:ee:00", "/var/run/netns/pod"),
    ),
    ips=(IPConfig(IPv4Interface("172.16.10.7/24"), IPv4Address("172.16.10.1"), 2),),
    routes=(Route(IPv4Network("0.0.0.0/0"), IPv4Address("172.16.10.1")),),
)
FAKE_VERBS = {verb: (lambda inv, conf: RESULT) for verb in ("ADD", "DEL", "CHECK", "GC", "STATUS")}


def call(env=None, conf=None, raw=None, verbs=FAKE_VERBS):
    stdout, stderr = io.StringIO(), io.StringIO()
    stdin = io.BytesIO(raw if raw is not None else json.dumps(conf or CONF).encode())
    status = skel.run(env or ENV, stdin, stdout, stderr, verbs=verbs)
    out = stdout.getvalue()
    return status, (json.loads(out) if out else None), stderr.getvalue()


def test_version_lists_every_supported_version_without_reading_config():
    status, out, _ = call({"CNI_COMMAND": "VERSION"}, raw=b"not even json")
    assert status == 0
    assert out == {"cniVersion": "1.1.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"CNI_COMMAND": None}, "CNI_COMMAND"),
        ({"CNI_COMMAND": "add"}, "CNI_COMMAND"),
        ({"CNI_CONTAINERID": None}, "CNI_CONTAINERID"),
        ({"CNI_CONTAINERID": "-abc"}, "CNI_CONTAINERID"),
        ({"CNI_CONTAINERID": "abc;rm -rf /"}, "CNI_CONTAINERID"),
        ({"CNI_CONTAINERID": "a" * 129}, "CNI_CONTAINERID"),
        ({"CNI_IFNAME": None}, "CNI_IFNAME"),
        ({"CNI_IFNAME": "a" * 16}, "CNI_IFNAME"),
        ({"CNI_IFNAME": "ne/t1"}, "CNI_IFNAME"),
        ({"CNI_IFNAME": "net 1"}, "CNI_IFNAME"),
        ({"CNI_IFNAME": ".."}, "CNI_IFNAME"),
        ({"CNI_IFNAME": "é" * 8}, "CNI_IFNAME"),
        ({"CNI_NETNS": None}, "CNI_NETNS"),
    ],
)
def test_bad_environment_is_error_4_naming_the_variable(change, mentions):
    env = {k: v for k, v in {**ENV, **change}.items() if v is not None}
    status, out, _ = call(env)
    assert status != 0
    assert out["code"] == types.INVALID_ENVIRONMENT
    assert mentions in out["msg"]


def test_del_does_not_need_a_netns():
    env = {**ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": ""}
    status, out, _ = call(env, verbs={"DEL": lambda inv, conf: None})
    assert (status, out) == (0, None)


def test_errors_are_well_formed_and_in_the_configs_version():
    status, out, stderr = call(conf={**CONF, "cniVersion": "0.4.0", "gateway": "10.0.0.1"})
    assert status == 1
    assert set(out) == {"cniVersion", "code", "msg", "details"}
    assert out["cniVersion"] == "0.4.0"
    assert out["code"] == types.INVALID_CONFIG
    assert "gateway" in stderr


def test_an_unexpected_exception_becomes_an_error_object_not_a_traceback():
    def explode(inv, conf):
        raise RuntimeError("boom")

    status, out, stderr = call(verbs={"ADD": explode})
    assert status == 1
    assert out["code"] == types.INTERNAL_ERROR
    assert "boom" in out["details"]
    assert "Traceback" in stderr


@pytest.mark.parametrize("version", types.SUPPORTED_VERSIONS)
def test_result_is_written_in_the_configs_version(version):
    status, out, _ = call(conf={**CONF, "cniVersion": version})
    assert status == 0
    assert out["cniVersion"] == version
    ip = out["ips"][0]
    assert ip["address"] == "172.16.10.7/24"
    assert ip["gateway"] == "172.16.10.1"
    assert ip["interface"] == 2
    assert ("version" in ip) == (version in ("0.3.1", "0.4.0"))
    assert out["interfaces"][2] == {"name": "net1", "mac": "aa:bb:cc:dd:ee:00", "sandbox": "/var/run/netns/pod"}
    assert out["routes"] == [{"dst": "0.0.0.0/0", "gw": "172.16.10.1"}]
    assert out["dns"] == {}


def test_results_round_trip_through_from_json():
    for version in types.SUPPORTED_VERSIONS:
        assert Result.from_json(RESULT.to_json(version)) == RESULT


def test_from_json_keeps_ipv4_and_drops_ipv6():
    parsed = Result.from_json(
        {
            "ips": [{"address": "fd00::2/64"}, {"address": "10.1.2.3/24", "gateway": "10.1.2.1"}],
            "routes": [{"dst": "::/0"}, {"dst": "0.0.0.0/0"}],
        }
    )
    assert [str(ip.address) for ip in parsed.ips] == ["10.1.2.3/24"]
    assert parsed.routes == (Route(IPv4Network("0.0.0.0/0")),)


def test_from_json_fills_what_is_left_out_with_nothing():
    parsed = Result.from_json(
        {"interfaces": [{"name": "eth0"}], "ips": [{"address": "10.1.2.3/24", "interface": True}]}
    )
    assert parsed.interfaces == (Interface("eth0", "", ""),)
    assert parsed.ips == (IPConfig(IPv4Interface("10.1.2.3/24"), None, None),)  # a bool is no interface index


def test_from_json_rejects_dns_that_is_not_an_object():
    with pytest.raises(ValueError, match="not a CNI result: dns is not an object"):
        Result.from_json({"dns": ["10.96.0.10"]})


def test_log_file_receives_the_log(tmp_path):
    log_file = tmp_path / "krafty.log"
    call(conf={**CONF, "gateway": "172.16.10.1", "logFile": str(log_file)}, verbs={"ADD": lambda i, c: None})
    call(conf={**CONF, "logFile": str(log_file), "mtu": 1}, verbs=FAKE_VERBS)
    call(
        conf={**CONF, "logFile": str(log_file)},
        verbs={"ADD": lambda i, c: (_ for _ in ()).throw(types.CniError(100, "nope"))},
    )
    assert "nope" in log_file.read_text()


def test_log_file_lines_carry_time_pid_and_level(tmp_path):
    log_file = tmp_path / "krafty.log"
    call(
        conf={**CONF, "logFile": str(log_file)},
        verbs={"ADD": lambda i, c: (_ for _ in ()).throw(types.CniError(100, "nope"))},
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} krafty\[\d+\] ERROR ADD: nope \n", log_file.read_text()
    ), log_file.read_text()


def test_an_unusable_log_file_is_a_warning_not_a_failure(tmp_path):
    missing = tmp_path / "no-such-dir" / "krafty.log"
    status, out, stderr = call(conf={**CONF, "logFile": str(missing)})
    assert status == 0 and out["cniVersion"] == "1.1.0"
    assert f"WARNING cannot open logFile {missing}: [Errno 2] No such file or directory" in stderr
