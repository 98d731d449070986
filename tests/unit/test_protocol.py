"""The protocol in-process: environment, VERSION, errors and results, with fake verbs."""

import io
import json
import re
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from krafty import skel, types
from krafty.types import Interface, Invocation, IPConfig, Result, Route

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


def test_version_answers_with_the_asked_version_in_process_too():
    status, out, _ = call({"CNI_COMMAND": "VERSION"}, raw=b'{"cniVersion": "0.4.0"}')
    assert (status, out["cniVersion"]) == (0, "0.4.0")


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


@pytest.mark.parametrize("netns", ["", None])
def test_del_does_not_need_a_netns(netns):
    env = {k: v for k, v in {**ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": netns}.items() if v is not None}
    status, out, _ = call(env, verbs={"DEL": lambda inv, conf: None})
    assert (status, out) == (0, None)


def test_a_missing_cni_command_is_quoted_and_logged_as_unknown():
    env = {k: v for k, v in ENV.items() if k != "CNI_COMMAND"}
    _, out, stderr = call(env)
    assert out["details"] == "''"
    assert "ERROR ?: CNI_COMMAND must be one of" in stderr


def test_without_cni_path_the_search_path_is_empty():
    assert skel.parse_environment({"CNI_COMMAND": "GC"}).path == ()


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
    assert (out["cniVersion"], out["code"], out["msg"]) == ("1.1.0", types.INTERNAL_ERROR, "internal error")
    assert "boom" in out["details"]
    assert "ERROR internal error\nTraceback" in stderr


@pytest.mark.parametrize("version", types.SUPPORTED_VERSIONS)
def test_result_is_written_in_the_configs_version(version):
    status, out, _ = call(conf={**CONF, "cniVersion": version})
    assert status == 0
    assert out["cniVersion"] == version
    ip = out["ips"][0]
    assert ip["address"] == "172.16.10.7/24"
    assert ip["gateway"] == "172.16.10.1"
    assert ip["interface"] == 2
    assert ip.get("version") == ("4" if version in ("0.3.1", "0.4.0") else None)
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


def test_a_calls_log_file_gets_only_that_calls_lines(tmp_path):
    """In-process calls (the tests', a long-lived caller's) must not inherit a logFile."""
    log_file = tmp_path / "krafty.log"
    nope = {"ADD": lambda i, c: (_ for _ in ()).throw(types.CniError(100, "nope"))}
    call(conf={**CONF, "logFile": str(log_file)}, verbs=nope)
    _, _, stderr = call(conf={**CONF, "name": "second"}, verbs=nope)
    assert "ERROR ADD: nope" in stderr
    assert log_file.read_text().count("nope") == 1, log_file.read_text()


def test_an_unusable_log_file_is_a_warning_not_a_failure(tmp_path):
    missing = tmp_path / "no-such-dir" / "krafty.log"
    status, out, stderr = call(conf={**CONF, "logFile": str(missing)})
    assert status == 0 and out["cniVersion"] == "1.1.0"
    assert f"WARNING cannot open logFile {missing}: [Errno 2] No such file or directory" in stderr


def test_the_verb_gets_the_runtimes_environment_and_the_parsed_config():
    seen = []
    env = {**ENV, "CNI_PATH": "/opt/cni/bin::/usr/lib/cni"}
    call(env, verbs={"ADD": lambda inv, conf: seen.append((inv, conf.name))})
    assert seen == [
        (Invocation("ADD", "c0ffee", "/var/run/netns/pod", "net1", ("/opt/cni/bin", "/usr/lib/cni"), env), "krafty")
    ]


@pytest.mark.parametrize("command", ["VERSION", "GC", "STATUS"])
def test_verbs_without_a_container_need_only_the_command(command):
    env = {"CNI_COMMAND": command, "CNI_PATH": "/opt/cni/bin"}
    assert skel.parse_environment(env) == Invocation(command, path=("/opt/cni/bin",), environ=env)


def test_check_needs_a_netns():
    status, out, _ = call({**ENV, "CNI_COMMAND": "CHECK", "CNI_NETNS": ""})
    assert (status, out["code"], out["msg"]) == (1, types.INVALID_ENVIRONMENT, "CNI_NETNS is required for CHECK")


def test_a_nul_byte_in_the_netns_path_is_error_4():
    status, out, _ = call({**ENV, "CNI_NETNS": "/var/run/netns/a\0b"})
    assert (status, out["code"], out["msg"]) == (1, types.INVALID_ENVIRONMENT, "CNI_NETNS contains a NUL byte")


@pytest.mark.parametrize(
    ("change", "msg", "details"),
    [
        ({"CNI_COMMAND": "add"}, "CNI_COMMAND must be one of ADD, DEL, CHECK, VERSION, GC, STATUS", "'add'"),
        (
            {"CNI_CONTAINERID": "-" * 300},
            "CNI_CONTAINERID must match [A-Za-z0-9][A-Za-z0-9_.-]*",
            repr("-" * 200),  # the value, cut at 200 characters
        ),
        ({"CNI_IFNAME": "/" * 300}, "CNI_IFNAME must be 1-15 bytes without '/', ':' or whitespace", repr("/" * 200)),
    ],
)
def test_environment_errors_quote_the_value(change, msg, details):
    _, out, _ = call({**ENV, **change})
    assert (out["msg"], out["details"]) == (msg, details)


# The spec sets no length limit on container IDs; the owner record's limit is the verbs' to
# check (tests/unit/test_container_id_length.py).
@pytest.mark.parametrize(("variable", "value"), [("CNI_CONTAINERID", "a" * 1000), ("CNI_IFNAME", "eXt-15-bytes-ok")])
def test_the_longest_allowed_values_are_accepted(variable, value):
    status, _, _ = call({**ENV, variable: value})
    assert status == 0


@pytest.mark.parametrize("ifname", [".", "a:b", "a\0b", ""])
def test_names_the_kernel_refuses_are_not_interface_names(ifname):
    assert not skel.valid_ifname(ifname)


def test_the_verbs_minimum_version_is_enforced_in_the_call():
    status, out, _ = call({**ENV, "CNI_COMMAND": "CHECK"}, conf={**CONF, "cniVersion": "0.3.1"})
    assert (status, out["code"], out["cniVersion"]) == (1, types.INCOMPATIBLE_VERSION, "0.3.1")


def test_an_unsupported_config_version_gets_an_error_in_the_spec_version():
    _, out, _ = call(conf={**CONF, "cniVersion": "0.2.0"})
    assert (out["code"], out["cniVersion"]) == (types.INCOMPATIBLE_VERSION, "1.1.0")


def test_an_unreadable_stdin_is_an_internal_error_object():
    class Unreadable(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise OSError("stdin closed")

    stdout, stderr = io.StringIO(), io.StringIO()
    assert skel.run(ENV, Unreadable(), stdout, stderr, verbs=FAKE_VERBS) == 1
    assert json.loads(stdout.getvalue())["code"] == types.INTERNAL_ERROR


def test_status_and_add_reach_the_real_verbs():
    """Without injected verbs: STATUS runs krafty.status (ready, or 50 without VRF); ADD runs
    krafty.plugin, which stops at the missing netns before touching anything."""
    status, out, _ = call({"CNI_COMMAND": "STATUS"}, verbs=None)
    assert status == 0 or out["code"] == types.PLUGIN_NOT_AVAILABLE
    status, out, _ = call({**ENV, "CNI_NETNS": "/nonexistent/netns"}, verbs=None)
    assert (status, out["code"]) == (1, types.INVALID_ENVIRONMENT)
    assert out["msg"].startswith("CNI_NETNS: network namespace /nonexistent/netns")


def test_errors_are_logged_with_the_command_message_and_details():
    _, _, stderr = call({**ENV, "CNI_COMMAND": "add"})
    assert "ERROR add: CNI_COMMAND must be one of ADD, DEL, CHECK, VERSION, GC, STATUS 'add'\n" in stderr


def test_cni_error_defaults_to_empty_details():
    err = types.CniError(7, "bad")
    assert (str(err), err.to_json("1.0.0")) == ("bad", {"cniVersion": "1.0.0", "code": 7, "msg": "bad", "details": ""})


def test_a_route_without_gateway_is_written_without_one():
    result = Result(routes=(Route(IPv4Network("10.96.0.0/12")),))
    assert result.to_json("1.1.0")["routes"] == [{"dst": "10.96.0.0/12"}]
