import json
from ipaddress import IPv4Interface

import pytest

from krafty import config
from krafty.types import DECODE_FAILURE, INCOMPATIBLE_VERSION, INVALID_CONFIG, CniError, IPConfig, Result, version_tuple

BASE = {
    "cniVersion": "1.0.0",
    "name": "krafty",
    "type": "krafty",
    "subnet": "172.16.10.0/24",
    "gateway": "172.16.10.1",
    "ipam": {"type": "host-local", "ranges": [[{"subnet": "172.16.10.0/24"}]]},
}


def conf(**changes):
    doc = {**BASE, **changes}
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_a_valid_config_parses_with_defaults():
    parsed = config.parse(conf())
    assert str(parsed.subnet) == "172.16.10.0/24"
    assert str(parsed.gateway) == "172.16.10.1"
    assert parsed.ipam_type == "host-local"
    assert parsed.pod_ip is None
    assert parsed.vrf_table == config.default_vrf_table("krafty")
    assert parsed.gateway_interface == "172.16.10.1/24"
    assert parsed.raw["ipam"]["ranges"]


def test_static_pod_ip_instead_of_ipam():
    parsed = config.parse(conf(ipam=None, podIP="172.16.10.7", vrfTable=1234, mtu=1400))
    assert str(parsed.pod_ip) == "172.16.10.7"
    assert (parsed.vrf_table, parsed.mtu, parsed.ipam_type) == (1234, 1400, None)


def test_unknown_keys_and_runtime_fields_are_tolerated():
    parsed = config.parse(conf(somethingNew=1, args={"a": 1}, runtimeConfig={"b": 2}, dns={"nameservers": []}))
    assert parsed.raw["somethingNew"] == 1


@pytest.mark.parametrize(
    ("raw", "code", "mentions"),
    [
        (b"{", DECODE_FAILURE, "not valid JSON"),
        (b"\xff\xfe", DECODE_FAILURE, "not valid JSON"),
        (b"[1]", DECODE_FAILURE, "JSON object"),
        (b"[" * 100_000, DECODE_FAILURE, "not valid JSON"),
        (conf(cniVersion=None), INVALID_CONFIG, "cniVersion"),
        (conf(cniVersion="0.2.0"), INCOMPATIBLE_VERSION, "0.2.0"),
        (conf(cniVersion="2.0.0"), INCOMPATIBLE_VERSION, "2.0.0"),
        (conf(cniVersion=1), INVALID_CONFIG, "cniVersion"),
        (conf(name=None), INVALID_CONFIG, "name"),
        (conf(name="-lead"), INVALID_CONFIG, "name"),
        (conf(name="has space"), INVALID_CONFIG, "name"),
        (conf(name="n" * 65), INVALID_CONFIG, "name"),
        (conf(type=None), INVALID_CONFIG, "type"),
        (conf(subnet=None), INVALID_CONFIG, "subnet"),
        (conf(subnet="fd00::/64"), INVALID_CONFIG, "subnet"),
        (conf(subnet="172.16.10.5/24"), INVALID_CONFIG, "host bits"),
        (conf(subnet="172.16.10.0/31"), INVALID_CONFIG, "subnet"),
        (conf(subnet="172.16.10.0"), INVALID_CONFIG, "subnet"),
        (conf(subnet=24), INVALID_CONFIG, "subnet"),
        (conf(gateway=None), INVALID_CONFIG, "gateway"),
        (conf(gateway="10.0.0.1"), INVALID_CONFIG, "outside subnet"),
        (conf(gateway="172.16.10.0"), INVALID_CONFIG, "network or broadcast"),
        (conf(gateway="172.16.10.255"), INVALID_CONFIG, "network or broadcast"),
        (conf(gateway="fd00::1"), INVALID_CONFIG, "gateway"),
        (conf(ipam=None), INVALID_CONFIG, "exactly one"),
        (conf(podIP="172.16.10.9"), INVALID_CONFIG, "exactly one"),
        (conf(ipam=None, podIP="172.16.10.1"), INVALID_CONFIG, "gateway"),
        (conf(ipam=None, podIP="172.16.11.9"), INVALID_CONFIG, "outside subnet"),
        (conf(ipam=None, podIP="172.16.10.255"), INVALID_CONFIG, "broadcast"),
        (conf(ipam="host-local"), INVALID_CONFIG, "ipam"),
        (conf(ipam={}), INVALID_CONFIG, "type"),
        (conf(ipam={"type": "../../bin/sh"}), INVALID_CONFIG, "ipam.type"),
        (conf(ipam={"type": "/usr/bin/id"}), INVALID_CONFIG, "ipam.type"),
        (conf(ipam={"type": ".."}), INVALID_CONFIG, "ipam.type"),
        (conf(vrfTable=0), INVALID_CONFIG, "vrfTable"),
        (conf(vrfTable=-1), INVALID_CONFIG, "vrfTable"),
        (conf(vrfTable=2**32), INVALID_CONFIG, "vrfTable"),
        (conf(vrfTable=254), INVALID_CONFIG, "main"),
        (conf(vrfTable="100"), INVALID_CONFIG, "vrfTable"),
        (conf(vrfTable=True), INVALID_CONFIG, "vrfTable"),
        (conf(mtu=67), INVALID_CONFIG, "mtu"),
        (conf(mtu=65536), INVALID_CONFIG, "mtu"),
        (conf(mtu=1500.5), INVALID_CONFIG, "mtu"),
        (conf(logFile="relative.log"), INVALID_CONFIG, "logFile"),
        (conf(prevResult=[]), INVALID_CONFIG, "prevResult"),
        (conf(prevResult={"ips": [{"address": "nonsense"}]}), INVALID_CONFIG, "prevResult"),
    ],
)
def test_bad_configs_are_rejected_with_the_specs_code_naming_the_field(raw, code, mentions):
    with pytest.raises(CniError) as caught:
        config.parse(raw)
    assert caught.value.code == code
    assert mentions in caught.value.msg + caught.value.details


@pytest.mark.parametrize(("command", "version"), [("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "0.4.0")])
def test_verbs_newer_than_the_config_version_are_refused(command, version):
    with pytest.raises(CniError) as caught:
        config.parse(conf(cniVersion=version), command)
    assert caught.value.code == INCOMPATIBLE_VERSION
    assert command in caught.value.msg


@pytest.mark.parametrize(("command", "version"), [("CHECK", "0.4.0"), ("GC", "1.1.0"), ("STATUS", "1.1.0")])
def test_verbs_are_allowed_from_the_version_that_introduced_them(command, version):
    assert config.parse(conf(cniVersion=version), command).cni_version == version


def test_versions_compare_as_numbers_not_strings():
    assert version_tuple("1.10.0") > version_tuple("1.9.0")
    assert version_tuple("0.10.0") > version_tuple("0.4.0")
    assert version_tuple("1.1.0") == (1, 1, 0)


def test_gc_reads_valid_attachments():
    attachments = [{"containerID": "c1", "ifname": "net1"}]
    parsed = config.parse(conf(cniVersion="1.1.0", **{"cni.dev/valid-attachments": attachments}), "GC")
    assert parsed.valid_attachments == {("c1", "net1")}


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        (conf(mtu=1), "1"),
        (conf(name="has space"), '"has space"'),
        (conf(name="n" * 300), '"' + "n" * 199),  # the JSON value, cut at 200 characters
        (conf(gateway=None), ""),  # nothing to quote
    ],
)
def test_config_errors_quote_the_offending_value_as_json(raw, details):
    with pytest.raises(CniError) as caught:
        config.parse(raw)
    assert caught.value.details == details


def test_valid_attachments_must_be_a_list():
    with pytest.raises(CniError) as caught:
        config.parse(conf(cniVersion="1.1.0", **{"cni.dev/valid-attachments": "c1"}), "GC")
    assert (caught.value.code, caught.value.msg, caught.value.details) == (
        INVALID_CONFIG,
        "cni.dev/valid-attachments: must be a list",
        '"c1"',
    )


SUBNET = "172.16.10.0/24"


@pytest.mark.parametrize(
    ("raw", "msg", "details"),
    [
        (conf(cniVersion=1), "cniVersion: required, a non-empty string", "1"),
        (conf(name=None), "name: required, a non-empty string", ""),
        (conf(name="-lead"), "name: must match [A-Za-z0-9][A-Za-z0-9_.-]* and be at most 64 characters", '"-lead"'),
        (conf(subnet="fd00::/64"), f"subnet: must be an IPv4 CIDR such as {SUBNET}", '"fd00::/64"'),
        (conf(subnet="172.16.10.5/24"), "subnet: has host bits set", '"172.16.10.5/24"'),
        (
            conf(subnet="172.16.10.0/31"),
            "subnet: needs an explicit prefix of at most /30 (room for gateway and pod)",
            '"172.16.10.0/31"',
        ),
        (conf(gateway="fd00::1"), "gateway: must be an IPv4 address", '"fd00::1"'),
        (conf(gateway="10.0.0.1"), f"gateway: 10.0.0.1 is outside subnet {SUBNET}", '"10.0.0.1"'),
        (
            conf(gateway="172.16.10.0"),
            f"gateway: 172.16.10.0 is the network or broadcast address of {SUBNET}",
            '"172.16.10.0"',
        ),
        (conf(gateway=None), "gateway: required, an IPv4 address inside subnet", ""),
        (conf(ipam=None), "ipam/podIP: exactly one of ipam and podIP is required", ""),
        (conf(ipam=None, podIP="172.16.10.1"), "podIP: 172.16.10.1 is the gateway", '"172.16.10.1"'),
        (conf(ipam="host-local"), "ipam: must be an object", '"host-local"'),
        (conf(ipam={"type": ".."}), "ipam.type: must be a bare plugin file name found in CNI_PATH", '".."'),
        (conf(vrfTable=254), "vrfTable: 254 is the kernel's main table", "254"),
        (conf(mtu=67), "mtu: must be an integer from 68 to 65535", "67"),
        (conf(logFile=""), "logFile: must be a non-empty string", '""'),
        (conf(logFile="relative.log"), "logFile: must be an absolute path", '"relative.log"'),
        (conf(prevResult=[]), "prevResult: must be an object", "[]"),
        (
            conf(prevResult={"ips": [{"address": "nonsense"}]}),
            "prevResult: not a CNI result: Expected 4 octets in 'nonsense'",  # ipaddress's own words
            "",
        ),
        (
            conf(cniVersion="1.1.0", **{"cni.dev/valid-attachments": [{"containerID": "c1"}]}),
            "cni.dev/valid-attachments: entries need containerID and ifname",
            '[{"containerID": "c1"}]',
        ),
    ],
)
def test_each_rejection_names_the_field_says_why_and_quotes_the_value(raw, msg, details):
    with pytest.raises(CniError) as caught:
        config.parse(raw)
    assert (caught.value.code, caught.value.msg, caught.value.details) == (INVALID_CONFIG, msg, details)


@pytest.mark.parametrize(("field", "value"), [("mtu", 68), ("mtu", 65535), ("vrfTable", 1), ("vrfTable", 2**32 - 1)])
def test_the_ends_of_each_range_are_allowed(field, value):
    parsed = config.parse(conf(**{field: value}))
    assert {"mtu": parsed.mtu, "vrfTable": parsed.vrf_table}[field] == value


def test_prev_result_is_parsed():
    parsed = config.parse(conf(prevResult={"cniVersion": "1.0.0", "ips": [{"address": "172.16.10.5/24"}]}), "CHECK")
    assert parsed.prev_result == Result(ips=(IPConfig(IPv4Interface("172.16.10.5/24")),))


@pytest.mark.parametrize(
    ("raw", "code", "msg", "details"),
    [
        (b"[1]", DECODE_FAILURE, "network configuration must be a JSON object", "list"),
        (
            b"{",
            DECODE_FAILURE,
            "network configuration is not valid JSON",
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",  # json's own words
        ),
        (
            conf(cniVersion="0.2.0"),
            INCOMPATIBLE_VERSION,
            "cniVersion 0.2.0 is not supported",
            "supported: 0.3.1, 0.4.0, 1.0.0, 1.1.0",
        ),
    ],
)
def test_documents_that_are_no_config_of_ours(raw, code, msg, details):
    with pytest.raises(CniError) as caught:
        config.parse(raw)
    assert (caught.value.code, caught.value.msg, caught.value.details) == (code, msg, details)


def test_the_largest_subnet_prefix_and_the_longest_name_are_allowed():
    parsed = config.parse(conf(name="n" * 64, subnet="172.16.10.0/30", ipam=None, podIP="172.16.10.2"))
    assert (parsed.name, str(parsed.subnet)) == ("n" * 64, "172.16.10.0/30")
