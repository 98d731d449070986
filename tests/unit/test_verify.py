"""Results held against the kernel (krafty.testing.verify), on plain data: no root, no netlink.

The result is SPEC.md 1.1.0's "Success" example; the observed namespaces are written out as a
kernel that did exactly what it says. Each broken case changes one thing and must break
exactly one rule, named by its id.
"""

import copy
from pathlib import Path

import pytest

from krafty.testing.runtime import CniSpecViolation, Runtime
from krafty.testing.verify import (
    RULES,
    Device,
    KernelRoute,
    Observed,
    check,
    normal_mac,
    observe,
    reads,
    skips,
    violations,
)
from krafty.types import result_violations

POD = "/var/run/netns/blue"
RESULT = {
    "cniVersion": "1.1.0",
    "interfaces": [
        {"name": "cni0", "mac": "00:11:22:33:44:55"},
        {"name": "veth3243", "mac": "55:44:33:22:11:11"},
        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": POD},
    ],
    "ips": [
        {"address": "10.1.0.5/16", "gateway": "10.1.0.1", "interface": 2},
        {"address": "fd00:1::5/64", "gateway": "fd00:1::1", "interface": 2},
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.0/16", "gw": "10.1.0.1"}, {"dst": "::/0", "gw": "fd00:1::1"}],
    "dns": {"nameservers": ["10.1.0.1"]},
}
POD_SEEN = Observed(
    POD,
    {
        "lo": Device("00:00:00:00:00:00", frozenset({"127.0.0.1/8", "::1/128"})),
        "eth0": Device("99:88:77:66:55:44", frozenset({"10.1.0.5/16", "fd00:1::5/64", "fe80::9b88:77ff:fe66:5544/64"})),
    },
    (
        KernelRoute("0.0.0.0/0", frozenset({"10.1.0.1"}), 254),
        KernelRoute("10.1.0.0/16", frozenset(), 254),
        KernelRoute("10.9.0.0/16", frozenset({"10.1.0.1"}), 254),
        KernelRoute("::/0", frozenset({"fd00:1::1"}), 254),
        KernelRoute("10.1.0.5/32", frozenset(), 255),
    ),
)
NODE_SEEN = Observed(
    "/proc/1/ns/net",
    {
        "lo": Device("00:00:00:00:00:00", frozenset({"127.0.0.1/8"})),
        "cni0": Device("00:11:22:33:44:55", frozenset({"10.1.0.1/16"})),
        "veth3243": Device("55:44:33:22:11:11"),
    },
)


def broken(result=RESULT, netns=POD, ifname="eth0", pod=POD_SEEN, node=NODE_SEEN, final=True):
    return [(b.rule, b.message) for b in violations(result, netns, ifname, pod, node, final=final)]


def changed(*changes):
    """RESULT changed: `("interfaces", 2, "mac", "x")` sets interfaces[2]["mac"] = "x"; None deletes."""
    result = copy.deepcopy(RESULT)
    for key, index, field, value in changes:
        if value is None:
            del result[key][index][field]
        else:
            result[key][index][field] = value
    return result


def test_a_result_the_kernel_bears_out_breaks_nothing():
    assert broken() == []


def test_the_sandbox_must_be_cni_netns_byte_for_byte():
    assert broken(changed(("interfaces", 2, "sandbox", "/var/run/netns/blue/"))) == [
        (
            "kernel.sandbox-is-netns",
            "interfaces[2] eth0: sandbox is '/var/run/netns/blue/', CNI_NETNS is '/var/run/netns/blue'",
        )
    ]


def test_a_cni_netns_that_cannot_be_read_breaks_the_sandbox_rule_alone():
    unread = Observed(POD, error="no such file")
    assert broken(pod=unread) == [
        ("kernel.sandbox-is-netns", "CNI_NETNS '/var/run/netns/blue' cannot be read: no such file")
    ]


def test_a_node_that_cannot_be_read_breaks_the_node_rule():
    unread = Observed("/run/netns/gone", error="no such file")
    assert broken(node=unread) == [
        ("kernel.interface-on-node", "the node namespace '/run/netns/gone' cannot be read: no such file")
    ]


def test_cni_ifname_must_be_listed_with_a_sandbox():
    assert broken(ifname="net1") == [
        (
            "kernel.ifname-listed",
            "CNI_IFNAME net1 is not listed with a sandbox; interfaces: cni0 (node), veth3243 (node), eth0 (sandbox)",
        )
    ]


def test_cni_ifname_listed_without_its_sandbox_breaks_the_listing_rule():
    result = changed(("interfaces", 2, "sandbox", None))
    result["ips"] = []
    node = Observed(NODE_SEEN.path, {**NODE_SEEN.devices, "eth0": Device("99:88:77:66:55:44")})
    assert [rule for rule, _ in broken(result, node=node)] == ["kernel.ifname-listed"]


def test_a_result_listing_no_interfaces_has_no_ifname_to_list():
    """IPAM plugins and meta plugins that pass nothing on list none; only their routes are checked."""
    result = {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/16"}], "routes": [{"dst": "0.0.0.0/0"}]}
    assert broken(result, node=None) == []


def test_an_interface_with_a_sandbox_must_exist_there():
    assert broken(changed(("interfaces", 2, "name", "eth1")), ifname="eth1") == [
        ("kernel.interface-in-sandbox", "eth1 is not in /var/run/netns/blue: it has eth0, lo")
    ]


def test_an_interface_without_a_sandbox_must_exist_on_the_node():
    assert broken(changed(("interfaces", 1, "name", "veth0000"))) == [
        ("kernel.interface-on-node", "veth0000 is not in the node: it has cni0, lo, veth3243")
    ]


def test_a_mac_must_be_the_devices():
    assert broken(changed(("interfaces", 2, "mac", "99:88:77:66:55:45"))) == [
        ("kernel.mac", "eth0 in /var/run/netns/blue: has MAC 99:88:77:66:55:44; result says 99:88:77:66:55:45")
    ]
    assert broken(changed(("interfaces", 0, "mac", "00:11:22:33:44:00"))) == [
        ("kernel.mac", "cni0 in the node: has MAC 00:11:22:33:44:55; result says 00:11:22:33:44:00")
    ]


def test_a_mac_compares_in_any_case_and_separator():
    assert broken(changed(("interfaces", 2, "mac", "99-88-77-66-55-44"))) == []
    assert broken(changed(("interfaces", 2, "mac", "99:88:77:66:55:44".upper()))) == []
    assert normal_mac("0:1:a:B:c:D") == "00:01:0a:0b:0c:0d"
    assert normal_mac("C2-B0-57-49-47-F1") == normal_mac("c2:b0:57:49:47:f1") == "c2:b0:57:49:47:f1"


def test_an_address_must_be_on_the_interface_it_names():
    assert broken(changed(("ips", 0, "address", "10.37.0.5/16"))) == [
        (
            "kernel.ip-on-interface",
            "ips[0]: eth0 in /var/run/netns/blue: has 10.1.0.5/16, fd00:1::5/64, fe80::9b88:77ff:fe66:5544/64; "
            "result says 10.37.0.5/16",
        )
    ]


def test_an_address_must_have_its_prefix():
    assert [rule for rule, _ in broken(changed(("ips", 0, "address", "10.1.0.5/24")))] == ["kernel.ip-on-interface"]


def test_an_ipv6_address_compares_as_an_address_not_as_text():
    assert broken(changed(("ips", 1, "address", "fd00:1:0::0:5/64"))) == []
    assert [rule for rule, _ in broken(changed(("ips", 1, "address", "fd00:1::6/64")))] == ["kernel.ip-on-interface"]


def test_an_address_on_a_node_interface_is_looked_for_on_the_node():
    assert broken(changed(("ips", 0, "interface", 0), ("ips", 0, "address", "10.1.0.1/16"))) == []


def test_an_address_missing_from_a_node_interface_is_reported_on_the_node():
    assert broken(changed(("ips", 0, "interface", 0), ("ips", 0, "address", "10.1.0.2/16"))) == [
        ("kernel.ip-on-interface", "ips[0]: cni0 in the node: has 10.1.0.1/16; result says 10.1.0.2/16")
    ]
    assert broken(changed(("ips", 0, "interface", 1))) == [
        ("kernel.ip-on-interface", "ips[0]: veth3243 in the node: has no address; result says 10.1.0.5/16")
    ]


def test_an_address_without_interface_is_not_looked_for():
    assert broken(changed(("ips", 0, "interface", None), ("ips", 0, "address", "192.0.2.1/24"))) == []


def test_an_interface_index_that_names_no_object_is_left_to_the_form_rules():
    """`ips[].interface` out of range, a boolean, or pointing at a non-object: nothing to look for, no crash."""
    for index in (3, 7, -1, True):
        assert broken(changed(("ips", 0, "interface", index), ("ips", 0, "address", "192.0.2.1/24"))) == []
    no_interfaces = {"cniVersion": "1.1.0", "ips": [{"address": "192.0.2.1/24", "interface": 0}]}
    assert broken(no_interfaces, node=None) == []
    odd = {"cniVersion": "1.1.0", "interfaces": ["eth0"], "ips": [{"address": "192.0.2.1/24", "interface": 0}]}
    assert reads(odd, final=True) == reads({"cniVersion": "1.1.0"}, final=True)
    assert broken(odd, pod=None, node=None) == []


def test_an_interface_name_that_is_no_string_is_on_no_device():
    assert broken(changed(("interfaces", 1, "name", ["veth3243"]))) == [
        ("kernel.interface-on-node", "['veth3243'] is not in the node: it has cni0, lo, veth3243")
    ]


def test_every_interface_and_address_is_checked_after_one_that_fails():
    """One broken entry does not hide the ones after it."""
    gone = changed(("interfaces", 0, "name", "cni9"), ("interfaces", 2, "mac", "99:88:77:66:55:45"))
    assert [rule for rule, _ in broken(gone)] == ["kernel.interface-on-node", "kernel.mac"]
    unread = Observed("/run/netns/gone", error="no such file")
    assert [rule for rule, _ in broken(changed(("interfaces", 2, "mac", "99:88:77:66:55:45")), node=unread)] == [
        "kernel.interface-on-node",
        "kernel.mac",
    ]
    for first in ({"interface": None}, {"address": "not an address"}):
        result = changed(*(("ips", 0, key, value) for key, value in first.items()), ("ips", 1, "address", "fd00::9/64"))
        assert [rule for rule, _ in broken(result)] == ["kernel.ip-on-interface"], first


def test_every_route_of_the_final_result_is_in_the_pod():
    result = copy.deepcopy(RESULT)
    result["routes"].append({"dst": "10.8.0.0/16", "gw": "10.1.0.1"})
    assert broken(result) == [
        (
            "kernel.route-in-pod",
            "routes[3]: /var/run/netns/blue (any table) has 0.0.0.0/0 via 10.1.0.1 table 254, 10.1.0.0/16 table 254, "
            "10.9.0.0/16 via 10.1.0.1 table 254; result says 10.8.0.0/16 via 10.1.0.1",
        )
    ]


def test_a_route_gateway_must_match_when_given():
    assert [rule for rule, _ in broken(changed(("routes", 2, "gw", "fd00:1::2")))] == ["kernel.route-in-pod"]


def test_a_route_in_another_table_counts():
    """sbr moves an interface's routes to a table of its own: any table holds."""
    moved = Observed(POD, POD_SEEN.devices, tuple(KernelRoute(r.dst, r.gateways, 100) for r in POD_SEEN.routes))
    assert broken(pod=moved) == []


def test_a_multipath_route_holds_every_nexthop():
    multipath = Observed(
        POD, POD_SEEN.devices, (*POD_SEEN.routes[1:], KernelRoute("0.0.0.0/0", frozenset({"10.1.0.9", "10.1.0.1"})))
    )
    assert broken(pod=multipath) == []


def test_a_missing_route_lists_multipath_gateways_and_checks_the_routes_after_it():
    multipath = Observed(POD, POD_SEEN.devices, (KernelRoute("0.0.0.0/0", frozenset({"10.1.0.9", "10.1.0.1"})),))
    result = {**RESULT, "routes": [{"dst": "not a network"}, {"dst": "10.8.0.0/16"}]}
    assert broken(result, pod=multipath) == [
        (
            "kernel.route-in-pod",
            "routes[1]: /var/run/netns/blue (any table) has 0.0.0.0/0 via 10.1.0.1,10.1.0.9 table 254; "
            "result says 10.8.0.0/16",
        )
    ]


def test_a_missing_route_of_a_family_the_pod_has_no_route_for_says_so():
    v4_only = Observed(POD, POD_SEEN.devices, POD_SEEN.routes[:3])
    assert broken(pod=v4_only) == [
        (
            "kernel.route-in-pod",
            "routes[2]: /var/run/netns/blue (any table) has no such route; result says ::/0 via fd00:1::1",
        )
    ]


def test_routes_of_an_intermediate_result_are_not_checked():
    assert broken(pod=Observed(POD, POD_SEEN.devices, ()), final=False) == []


def test_what_is_read_follows_what_the_rules_need():
    assert reads(RESULT, final=True).__dict__ == {
        "pod": True, "pod_addresses": True, "pod_routes": True, "node": True, "node_addresses": False,
    }  # fmt: skip
    assert reads(RESULT, final=False).pod_routes is False
    assert reads({"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/16"}]}, final=True).__dict__ == {
        "pod": False, "pod_addresses": False, "pod_routes": False, "node": False, "node_addresses": False,
    }  # fmt: skip


def test_nothing_is_read_and_nothing_broken_for_a_result_that_names_nothing():
    """A stub's result with no interfaces or routes: not even a missing CNI_NETNS is opened."""
    assert (
        check({"cniVersion": "1.1.0", "ips": []}, "/nonexistent/netns", "eth0", "/nonexistent/node", final=True) == []
    )


def test_a_gateway_must_be_of_its_addresss_family():
    ok = {"cniVersion": "1.1.0", "ips": [{"address": "fd00::5/64", "gateway": "fd00::1"}]}
    assert result_violations(ok, "1.1.0") == []
    bad = {"cniVersion": "1.1.0", "ips": [{"address": "fd00::5/64", "gateway": "10.0.0.1"}]}
    assert result_violations(bad, "1.1.0") == [
        "result: ips[0].gateway must be of its address's family: gateway 10.0.0.1 is IPv4, address fd00::5/64 is IPv6"
    ]


def test_skip_checks_takes_known_rules_with_reasons():
    assert skips({"kernel.mac": "tuning rewrites the MAC after bridge"}) == {
        "kernel.mac": "tuning rewrites the MAC after bridge"
    }
    with pytest.raises(ValueError, match=r"unknown rule kernel\.macs"):
        skips({"kernel.macs": "typo"})
    with pytest.raises(ValueError, match=r"give the reason kernel\.mac is off"):
        skips({"kernel.mac": " "})


def test_skip_checks_names_every_unknown_and_unexplained_rule():
    with pytest.raises(ValueError) as unknown:
        skips({"kernel.mac": "ok", "kernel.macs": "typo", "kernel.ips": "typo"})
    assert str(unknown.value) == (
        "skip_checks: unknown rule kernel.ips, kernel.macs; the rules are kernel.sandbox-is-netns, "
        "kernel.ifname-listed, kernel.interface-in-sandbox, kernel.interface-on-node, kernel.mac, "
        "kernel.ip-on-interface, kernel.route-in-pod"
    )
    with pytest.raises(ValueError) as unexplained:
        skips({"kernel.mac": "", "kernel.route-in-pod": None})
    assert str(unexplained.value) == "skip_checks: give the reason kernel.mac, kernel.route-in-pod is off"


def test_a_namespace_that_cannot_be_opened_is_observed_as_an_error_saying_why(tmp_path):
    """Read nothing and create nothing: the path given, and why it cannot be read."""
    assert observe("", addresses=True, routes=True) == Observed("", error="the path is empty")
    for own in ("/proc/self/ns/net", "/proc/thread-self/ns/net"):
        assert observe(own, addresses=True, routes=True) == Observed(
            own, error="it names the reading process's own namespace, not the one the plugin saw"
        )
    missing = str(tmp_path / "gone")
    assert observe(missing, addresses=True, routes=True) == Observed(missing, error="no such file")
    assert not Path(missing).exists()


def test_every_rule_is_documented():
    text = (Path(__file__).parents[2] / "docs" / "harness" / "results.md").read_text()
    assert [rule for rule in RULES if f"`{rule}`" not in text] == []
    assert "`result.gateway-family`" in text


class FakeRuntime(Runtime):
    """The runtime's loop with `_exec` answering from a list: the hook, not the plugins."""

    def __init__(self, answers, tmp_path, node_path="/nonexistent/node"):
        class Node:
            path = node_path

        super().__init__(Node(), [], tmp_path)  # type: ignore[arg-type]
        self.answers = list(answers)

    def _exec(self, command, conf, attachment=None, env=None):
        return self.answers.pop(0)


def test_add_stops_at_the_first_plugin_whose_result_the_kernel_does_not_bear_out(tmp_path):
    liar = {"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": "/nonexistent/netns"}], "ips": []}
    runtime = FakeRuntime([liar, liar], tmp_path)
    conflist = {"cniVersion": "1.1.0", "name": "n", "plugins": [{"type": "first"}, {"type": "second"}]}
    with pytest.raises(CniSpecViolation) as raised:
        runtime.add(conflist, "/nonexistent/netns")
    assert (raised.value.plugin, raised.value.command, raised.value.rule) == ("first", "ADD", "kernel.sandbox-is-netns")
    assert "CNI_NETNS '/nonexistent/netns' cannot be read: no such file" in str(raised.value)
    assert len(runtime.answers) == 1, "the second plugin never ran"


def test_add_with_a_rule_off_passes_and_records_it(tmp_path):
    liar = {"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": "/nonexistent/netns"}], "ips": []}
    runtime = FakeRuntime([liar], tmp_path)
    off = {"kernel.sandbox-is-netns": "this test's pod is gone"}
    attachment = runtime.add({"cniVersion": "1.1.0", "name": "n", "type": "p"}, "/nonexistent/netns", skip_checks=off)
    assert attachment.skip_checks == off
    assert runtime.checks_off == [("kernel.sandbox-is-netns", "this test's pod is gone")]
    with pytest.raises(ValueError, match=r"unknown rule kernel\.nope"):
        runtime.add({"cniVersion": "1.1.0", "name": "n", "type": "p"}, "/x", skip_checks={"kernel.nope": "x"})
