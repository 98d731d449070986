"""The spec's rules for answers (krafty.types), which the harness applies to every plugin.

Valid inputs are the examples printed in SPEC.md 1.1.0 ("Success" and "Error" sections)
and its 0.4.0 counterpart; each invalid one breaks exactly one rule the spec states.
"""

import copy

import pytest

from krafty.testing.runtime import CallOutput, CniCallError, CniSpecViolation, as_list, check_answer, plugin_config
from krafty.types import error_violations, result_violations, version_violations

# SPEC.md 1.1.0, "Success": the example result of an ADD.
SPEC_RESULT = {
    "cniVersion": "1.1.0",
    "interfaces": [
        {"name": "cni0", "mac": "00:11:22:33:44:55"},
        {"name": "veth3243", "mac": "55:44:33:22:11:11"},
        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"},
    ],
    "ips": [{"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.1.0.1"]},
}
# SPEC.md 0.4.0's example: ips carry "version".
SPEC_RESULT_040 = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/var/run/netns/blue"}],
    "ips": [{"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.1.0.1"]},
}
# SPEC.md 1.1.0, "Error".
SPEC_ERROR = {
    "cniVersion": "1.1.0",
    "code": 7,
    "msg": "Invalid Configuration",
    "details": "Network 192.168.0.0/31 too small to allocate from.",
}


def changed(doc, path, value):
    doc = copy.deepcopy(doc)
    *parents, last = path
    target = doc
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


def test_the_specs_own_examples_are_valid():
    assert result_violations(SPEC_RESULT, "1.1.0") == []
    assert result_violations(SPEC_RESULT_040, "0.4.0") == []
    assert error_violations(SPEC_ERROR) == []
    assert version_violations({"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}) == []


@pytest.mark.parametrize(
    ("path", "value", "version", "rule"),
    [
        (("cniVersion",), "1.0.0", "1.1.0", "cniVersion is '1.0.0', the config asked for '1.1.0'"),
        (("interfaces", 0), "cni0", "1.1.0", "interfaces[0] must be an object"),
        (("interfaces", 0, "name"), 7, "1.1.0", "interfaces[0].name must be a non-empty string"),
        (("interfaces", 0, "name"), "", "1.1.0", "interfaces[0].name must be a non-empty string"),
        (("interfaces", 0, "mac"), 5, "1.1.0", "interfaces[0].mac must be a string"),
        (("interfaces", 2, "sandbox"), 5, "1.1.0", "interfaces[2].sandbox must be a string"),
        (("interfaces", 0, "socketPath"), 5, "1.1.0", "interfaces[0].socketPath must be a string"),
        (("interfaces", 0, "pciID"), 5, "1.1.0", "interfaces[0].pciID must be a string"),
        (("interfaces", 1, "mtu"), "1500", "1.1.0", "interfaces[1].mtu must be an integer and needs cniVersion 1.1.0"),
        (("interfaces", 1, "mtu"), 1500, "1.0.0", "interfaces[1].mtu must be an integer and needs cniVersion 1.1.0"),
        (("ips",), {}, "1.1.0", "ips must be a list"),
        (("ips", 0), "10.1.0.5/16", "1.1.0", "ips[0] must be an object"),
        (("ips", 0, "interface"), 3, "1.1.0", "ips[0].interface must index interfaces (0..2)"),
        (("ips", 0, "interface"), -1, "1.1.0", "ips[0].interface must index interfaces (0..2)"),
        (("ips", 0, "interface"), True, "1.1.0", "ips[0].interface must index interfaces (0..2)"),
        (("ips", 0, "version"), "4", "1.1.0", "ips[0].version was removed in cniVersion 1.0.0"),
        (("ips", 0, "version"), "4", "1.0.0", "ips[0].version was removed in cniVersion 1.0.0"),
        (("ips", 0, "address"), "10.1.0.5", "1.1.0", "ips[0].address must be an address in CIDR notation"),
        (("ips", 0, "address"), "10.1.0.5/33", "1.1.0", "ips[0].address must be an address in CIDR notation"),
        (("ips", 0, "gateway"), "gw", "1.1.0", "ips[0].gateway must be an IP address"),
        (("routes",), {}, "1.1.0", "routes must be a list"),
        (("routes", 0), "0.0.0.0/0", "1.1.0", "routes[0] must be an object"),
        (("routes", 0, "dst"), "default", "1.1.0", "routes[0].dst must be a network in CIDR notation"),
        (("routes", 0, "gw"), 7, "1.1.0", "routes[0].gw must be an IP address"),
        (("routes", 0, "table"), 100, "1.0.0", "routes[0].table must be an integer and needs cniVersion 1.1.0"),
        (("routes", 0, "mtu"), "1500", "1.1.0", "routes[0].mtu must be an integer and needs cniVersion 1.1.0"),
        (("routes", 0, "advmss"), 1460, "1.0.0", "routes[0].advmss must be an integer and needs cniVersion 1.1.0"),
        (("routes", 0, "priority"), 5, "1.0.0", "routes[0].priority must be an integer and needs cniVersion 1.1.0"),
        (("routes", 0, "scope"), 0, "1.0.0", "routes[0].scope must be an integer and needs cniVersion 1.1.0"),
        (("dns", "nameservers"), "10.1.0.1", "1.1.0", "dns.nameservers must be a list of strings"),
        (("dns", "search"), [1], "1.1.0", "dns.search must be a list of strings"),
        (("dns", "options"), "ndots:5", "1.1.0", "dns.options must be a list of strings"),
        (("dns", "domain"), ["example.com"], "1.1.0", "dns.domain must be a string"),
        (("dns",), [], "1.1.0", "dns must be an object"),
    ],
)
def test_each_broken_rule_is_named(path, value, version, rule):
    """The spec's example with one thing changed breaks exactly that one rule, in those words."""
    doc = changed(SPEC_RESULT, path, value)
    if version != "1.1.0" and path != ("cniVersion",):
        doc["cniVersion"] = version
    assert result_violations(doc, version) == [f"result: {rule}"]


def test_1_1_0_fields_and_a_route_gateway_are_valid_in_1_1_0():
    doc = changed(changed(SPEC_RESULT, ("interfaces", 1, "mtu"), 1500), ("routes", 0, "table"), 100)
    assert result_violations(changed(doc, ("routes", 0, "gw"), "10.1.0.1"), "1.1.0") == []


def test_every_entry_is_checked_past_a_malformed_one():
    doc = {**SPEC_RESULT, "interfaces": ["x", {"name": 7}], "ips": ["x", {"address": "x"}], "routes": ["x", {}]}
    assert result_violations(doc, "1.1.0") == [
        "result: interfaces[0] must be an object",
        "result: interfaces[1].name must be a non-empty string",
        "result: ips[0] must be an object",
        "result: ips[1].address must be an address in CIDR notation",
        "result: routes[0] must be an object",
        "result: routes[1].dst must be a network in CIDR notation",
    ]


def test_1_0_0_results_have_no_ip_versions():
    assert result_violations({**SPEC_RESULT, "cniVersion": "1.0.0"}, "1.0.0") == []


def test_interfaces_must_be_a_list():
    doc = changed(changed(SPEC_RESULT, ("ips", 0, "interface"), KeyError), ("interfaces",), {})
    assert result_violations(doc, "1.1.0") == ["result: interfaces must be a list"]


def test_a_result_must_be_an_object():
    assert result_violations([], "1.1.0") == ["result: must be a JSON object"]


def test_before_1_0_0_every_ip_needs_its_version():
    doc = changed(SPEC_RESULT_040, ("ips", 0, "version"), KeyError)
    assert result_violations(doc, "0.4.0") == ['result: ips[0].version must be "4" or "6" before cniVersion 1.0.0']
    assert result_violations(changed(SPEC_RESULT_040, ("ips", 0, "version"), "6"), "0.4.0") == []


@pytest.mark.parametrize(
    ("doc", "rule"),
    [
        (changed(SPEC_ERROR, ("code",), "7"), "error: code must be a positive integer"),
        (changed(SPEC_ERROR, ("code",), 0), "error: code must be a positive integer"),
        (changed(SPEC_ERROR, ("code",), True), "error: code must be a positive integer"),
        (changed(SPEC_ERROR, ("msg",), KeyError), "error: msg must be a non-empty string"),
        (changed(SPEC_ERROR, ("msg",), ""), "error: msg must be a non-empty string"),
        (changed(SPEC_ERROR, ("details",), 5), "error: details must be a string"),
        (changed(SPEC_ERROR, ("cniVersion",), 1.1), "error: cniVersion must be a string"),
        (changed(SPEC_ERROR, ("trace",), "..."), "error: unknown key 'trace'"),
        (["not", "an", "object"], "an error must be a JSON object"),
    ],
)
def test_broken_error_objects(doc, rule):
    assert error_violations(doc) == [rule]


def test_an_error_with_code_1_and_no_details_is_valid():
    assert error_violations({"cniVersion": "1.1.0", "code": 1, "msg": "incompatible"}) == []


@pytest.mark.parametrize(
    ("doc", "rule"),
    [
        ({"supportedVersions": ["1.1.0"]}, "VERSION: cniVersion must be a string"),
        ({"cniVersion": "1.1.0"}, "VERSION: supportedVersions must be a non-empty list of strings"),
        (
            {"cniVersion": "1.1.0", "supportedVersions": []},
            "VERSION: supportedVersions must be a non-empty list of strings",
        ),
        (
            {"cniVersion": "1.1.0", "supportedVersions": "1.1.0"},
            "VERSION: supportedVersions must be a non-empty list of strings",
        ),
        (
            {"cniVersion": "1.1.0", "supportedVersions": ["1.1.0", 1]},
            "VERSION: supportedVersions must be a non-empty list of strings",
        ),
        ([], "VERSION: the answer must be a JSON object"),
    ],
)
def test_broken_version_answers(doc, rule):
    assert version_violations(doc) == [rule]


def test_an_error_without_cni_version_is_tolerated():
    """SPEC: a plugin *should* send cniVersion; Go's skel before 1.2 does not."""
    assert error_violations({"code": 999, "msg": "failed"}) == []


def test_check_answer_applies_the_rules_and_names_the_plugin():
    assert check_answer("p", "ADD", "1.1.0", CallOutput(0, '{"cniVersion": "1.1.0"}', "")) == {"cniVersion": "1.1.0"}
    assert check_answer("p", "DEL", "1.1.0", CallOutput(0, "", "logs on stderr are fine")) is None
    with pytest.raises(CniSpecViolation, match="p DEL succeeded but printed"):
        check_answer("p", "DEL", "1.1.0", CallOutput(0, "{}", ""))
    with pytest.raises(CniSpecViolation, match="p ADD: stdout must carry only JSON"):
        check_answer("p", "ADD", "1.1.0", CallOutput(0, 'log line\n{"cniVersion": "1.1.0"}', ""))
    with pytest.raises(CniSpecViolation, match="p ADD exited 1 without an error object"):
        check_answer("p", "ADD", "1.1.0", CallOutput(1, "", "panic"))
    with pytest.raises(CniSpecViolation, match="p ADD succeeded without a result"):
        check_answer("p", "ADD", "1.1.0", CallOutput(0, "", ""))
    with pytest.raises(CniCallError) as err:
        check_answer("p", "ADD", "1.1.0", CallOutput(1, '{"code": 7, "msg": "bad", "details": "d"}', "why"))
    assert (err.value.plugin, err.value.code, err.value.msg, err.value.details, err.value.stderr) == (
        "p",
        7,
        "bad",
        "d",
        "why",
    )


def test_each_plugin_of_a_list_gets_the_lists_name_version_prev_result_and_declared_capabilities():
    """libcni's buildOneConfig and injectRuntimeConfig."""
    conflist = {
        "cniVersion": "1.0.0",
        "name": "net",
        "plugins": [{"type": "a"}, {"type": "b", "capabilities": {"portMappings": True, "bandwidth": False}}],
    }
    caps = {"portMappings": [{"hostPort": 1}], "bandwidth": {"ingressRate": 1}, "ips": ["10.0.0.2/24"]}
    first = plugin_config(conflist, conflist["plugins"][0], None, caps)
    assert first == {"type": "a", "name": "net", "cniVersion": "1.0.0"}
    second = plugin_config(conflist, conflist["plugins"][1], {"cniVersion": "1.0.0", "ips": []}, caps)
    assert second["prevResult"] == {"cniVersion": "1.0.0", "ips": []}
    assert second["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}


def test_a_single_config_runs_as_a_list_of_one():
    single = {"cniVersion": "0.4.0", "name": "n", "type": "bridge", "bridge": "br0"}
    assert as_list(single) == {"cniVersion": "0.4.0", "name": "n", "plugins": [{"type": "bridge", "bridge": "br0"}]}


def test_without_an_interfaces_list_no_index_is_in_range():
    doc = {"cniVersion": "1.1.0", "interfaces": "eth0", "ips": [{"address": "10.0.0.2/24", "interface": 0}]}
    assert result_violations(doc, "1.1.0") == [
        "result: interfaces must be a list",
        "result: ips[0].interface must index interfaces (0..-1)",
    ]
