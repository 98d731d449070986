"""The Netns helpers a plugin's tests read the kernel with: families, ping, DAD, missing devices."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from krafty.testing import Netns, NetnsError


@pytest.fixture
def pair(cni_netns):
    """Two namespaces joined by a veth (a: 10.8.0.1/24 fd00:8::1/64, b: .2 and ::2), with default
    routes in b via a, and a rule in b for IPv6 only. DAD still runs on the IPv6 addresses."""
    a, b = cni_netns(), cni_netns()
    a.run("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b.path)
    for ns, dev, last in ((a, "va", 1), (b, "vb", 2)):
        ns.run("ip", "addr", "add", f"10.8.0.{last}/24", "dev", dev)
        ns.run("ip", "-6", "addr", "add", f"fd00:8::{last}/64", "dev", dev)
        ns.run("ip", "link", "set", dev, "up")
    b.run("ip", "route", "add", "default", "via", "10.8.0.1", "metric", "50")
    b.run("ip", "-6", "route", "add", "default", "via", "fd00:8::1", "metric", "60")
    b.run("ip", "-6", "rule", "add", "from", "fd00:8::/64", "table", "100", "priority", "100")
    return a, b


def test_routes_default_route_and_rules_of_each_family(pair):
    _, b = pair
    assert {r["dst"] for r in b.routes(family=4)} >= {"0.0.0.0/0", "10.8.0.0/24"}
    assert {r["dst"] for r in b.routes(family=6)} >= {"::/0", "fd00:8::/64"}
    assert not any(":" in r["dst"] for r in b.routes(family=4))
    v4, v6 = b.default_route(), b.default_route(family=6)
    assert (v4["gateway"], v4["metric"], v4["dev"]) == ("10.8.0.1", 50, "vb")
    assert (v6["gateway"], v6["metric"], v6["dev"]) == ("fd00:8::1", 60, "vb")
    assert b.default_route(table=100, family=6) is None
    assert [(r["priority"], r["table"], r["src"]) for r in b.rules(6) if r["priority"] == 100] == [
        (100, 100, "fd00:8::/64")
    ]
    assert not [r for r in b.rules(4) if r["priority"] == 100]


@pytest.mark.parametrize("family", [5, "6", 0])
def test_a_bad_family_is_a_value_error_everywhere(cni_netns, family):
    ns = cni_netns()
    for read in (ns.routes, ns.rules, ns.addresses):
        with pytest.raises(ValueError, match="family must be 4 or 6"):
            read(family=family)
    with pytest.raises(ValueError, match="family must be 4 or 6"):
        ns.default_route(family=family)


def test_ping_v4_and_v6_with_a_source_after_dad(pair):
    a, b = pair
    a.wait_for_dad("va")
    b.wait_for_dad()
    assert "tentative" not in b.run("ip", "-6", "addr", "show", "dev", "vb").stdout
    assert "1 received" in a.ping("10.8.0.2", source="10.8.0.1")
    assert "1 received" in a.ping("fd00:8::2", source="fd00:8::1")
    assert "2 received" in b.ping("fd00:8::1", count=2)


def test_a_failed_ping_raises_with_its_output(pair):
    a, _ = pair
    with pytest.raises(AssertionError, match=r"(?s)ping 10\.8\.0\.99 from 10\.8\.0\.1 failed:.*100% packet loss"):
        a.ping("10.8.0.99", source="10.8.0.1", timeout=1)


def test_wait_for_dad_says_what_is_still_tentative(cni_netns):
    ns = cni_netns()
    ns.run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ns.run("ip", "-6", "addr", "add", "fd00:9::1/64", "dev", "v0")
    ns.run("sh", "-c", "ip link set v0 up && ip link set v1 up")
    with pytest.raises(AssertionError, match=r"still tentative in .* after 0\.01 s: \[.*'fd00:9::1/64'"):
        ns.wait_for_dad("v0", timeout=0.01)
    ns.wait_for_dad("v0")
    assert "tentative" not in ns.run("ip", "-6", "addr", "show", "dev", "v0").stdout


def test_wait_for_dad_says_when_dad_failed(pair):
    a, b = pair
    a.wait_for_dad()
    b.run("ip", "-6", "addr", "add", "fd00:8::1/128", "dev", "vb")  # a's address: a duplicate
    with pytest.raises(AssertionError, match=r"duplicate address detection failed in .*fd00:8::1/128"):
        b.wait_for_dad("vb")


def test_a_missing_device_is_named_with_the_devices_there_are(cni_netns):
    ns = cni_netns()
    expected = rf"no device eth9 in {ns.name}; there are \['lo'\]"
    for call in (lambda: ns.addresses("eth9"), lambda: ns.up("eth9"), lambda: ns.link("eth9")):
        with pytest.raises(NetnsError, match=expected):
            call()
    with pytest.raises(NetnsError, match=expected):
        ns.wait_for_dad("eth9")


def test_a_namespace_read_from_its_path_is_named_after_it_and_never_removed(cni_netns):
    ns = cni_netns()
    foreign = Netns.from_path(ns.path)
    assert (foreign.name, foreign.path) == (ns.name, ns.path)
    foreign.remove()
    assert ns.exists, "remove() deleted a namespace it did not make"


def test_a_node_read_from_its_path_is_reported_when_it_vanishes(cni_netns, cni_assert_clean):
    made = cni_netns()
    node = Netns.from_path(made.path, role="node")
    node.rebaseline()
    made.remove()
    with pytest.raises(AssertionError, match=f"{node.name}: the node namespace is gone"):
        cni_assert_clean(node)


def test_reads_go_over_the_socket_they_are_given(pair):
    a, b = pair
    with a.ipr() as socket_of_a:
        assert "va" in b.links(ipr=socket_of_a)
        assert "10.8.0.1/24" in b.addresses(ipr=socket_of_a)
        assert "10.8.0.0/24 va" in {f"{r['dst']} {r['dev']}" for r in b.routes(ipr=socket_of_a)}
        assert not [r for r in b.rules(6, ipr=socket_of_a) if r["priority"] == 100], "b's rule, not a's"


def test_addresses_of_one_device_and_one_family(pair):
    a, _ = pair
    assert a.addresses("va", family=4) == {"10.8.0.1/24"}
    v6 = a.addresses("va", family=6)
    assert "fd00:8::1/64" in v6 and all(":" in address for address in v6), v6
    assert "127.0.0.1/8" in a.addresses() and "127.0.0.1/8" not in a.addresses("va")


def test_routes_of_the_main_table_by_default_or_of_every_table(pair):
    _, b = pair
    assert {r["table"] for r in b.routes()} == {254}
    assert {254, 255} <= {r["table"] for r in b.routes(table=None)}


def test_the_default_route_is_the_one_with_the_lowest_metric(pair):
    _, b = pair
    b.run("ip", "route", "add", "default", "via", "10.8.0.3", "metric", "20")
    b.run("ip", "route", "add", "default", "via", "10.8.0.4", "metric", "90")
    assert (b.default_route()["gateway"], b.default_route()["metric"]) == ("10.8.0.3", 20)


def test_a_ping_from_a_source_the_namespace_lacks_fails(pair):
    a, _ = pair
    with pytest.raises(AssertionError, match=r"ping 10\.8\.0\.2 from 10\.8\.0\.99 failed"):
        a.ping("10.8.0.2", source="10.8.0.99", timeout=1)


def test_wait_for_dad_of_one_device_ignores_the_others(cni_netns):
    ns = cni_netns()
    ns.run(
        "sh",
        "-ec",
        "ip link add v0 type veth peer name v1 && ip link set v1 addrgenmode none"
        " && ip -6 addr add fd00:9::1/64 dev v0 && ip link set v0 up && ip link set v1 up",
    )
    ns.wait_for_dad("v1", timeout=0.01)  # v0's address is still tentative
    with pytest.raises(AssertionError, match="still tentative"):
        ns.wait_for_dad(timeout=0.01)


def test_add_parent_is_parent0_up_or_down_without_a_link_local_address(cni_netns):
    ns = cni_netns()
    parent = ns.add_parent()
    assert (parent.name, parent.up) == ("parent0", True)
    assert ns.addresses("parent0") == set(), "an address would race the baseline"
    assert not ns.add_parent("parent1", up=False).up
    assert ns.state() == ns.snapshot, "the parents are part of the baseline"


def test_add_parent_over_an_existing_device_names_it(cni_netns):
    ns = cni_netns()
    with pytest.raises(NetnsError, match=rf"dummy lo in {ns.name}: .*File exists"):
        ns.add_parent("lo")


def test_the_state_of_a_fresh_namespace_is_what_the_kernel_starts_with(cni_netns):
    state = cni_netns().state()  # lo up, nothing else
    assert state["links"] == ["lo (device)"]
    assert state["devices"] == [
        "lo alias = ",
        "lo mac = 00:00:00:00:00:00",
        "lo master = -",
        "lo mtu = 65536",
        "lo state = up",
    ]
    assert state["addresses"] == ["127.0.0.1/8 dev lo", "::1/128 dev lo"]
    assert {
        "127.0.0.0/8 table local dev lo metric 0 local",
        "127.0.0.1/32 table local dev lo metric 0 local",
        "::1/128 table local dev lo metric 0 local",
    } <= set(state["routes"])
    assert state["rules"] == [  # `ip rule` and `ip -6 rule` of a new namespace
        "priority 0 table 255 action to_tbl ipv4",
        "priority 0 table 255 action to_tbl ipv6",
        "priority 32766 table 254 action to_tbl ipv4",
        "priority 32766 table 254 action to_tbl ipv6",
        "priority 32767 table 253 action to_tbl ipv4",
    ]
    assert (state["neighbours"], state["netfilter"]) == ([], [])
    assert state["tc"] == ["lo: qdisc noqueue 0: root"]
    assert {
        "net.ipv4.ip_forward = 0",
        "net.ipv4.ip_local_port_range = 32768 60999",
        "net.ipv4.conf.all.forwarding = 0",
        "net.ipv4.conf.default.forwarding = 0",
        "net.ipv4.conf.lo.forwarding = 0",
        "net.ipv4.route.min_pmtu = 552",  # after route.flush, which cannot be read
        "net.ipv6.conf.lo.use_tempaddr = -1",  # after stable_secret, which cannot be read while unset
        "net.ipv6.conf.lo.disable_ipv6 = 0",
    } <= set(state["sysctls"])
    assert not [line for line in state["sysctls"] if line.startswith("net.netfilter.")]


def test_a_state_of_other_devices_leaves_out_the_per_device_parts_of_the_rest(cni_netns):
    state = cni_netns().state(devices=["eth9"])  # no such device: only what is not per device
    assert state["links"] == ["lo (device)"]
    assert (state["devices"], state["tc"]) == ([], [])
    assert "net.ipv4.conf.all.forwarding = 0" in state["sysctls"]
    assert not [line for line in state["sysctls"] if ".lo." in line]


def test_a_route_and_a_rule_as_the_kernel_reports_them(pair):
    _, b = pair
    b.run("ip", "route", "add", "10.9.0.0/16", "via", "10.8.0.1", "dev", "vb", "metric", "7", "table", "1000")
    rule = "from 10.8.0.0/24 to 10.9.0.0/16 iif vb oif lo fwmark 0x7 table 1000 priority 200"
    b.run("ip", "rule", "add", *rule.split())
    b.run("ip", "rule", "add", "prohibit", "priority", "300")
    b.run("ip", "rule", "add", "l3mdev", "priority", "400")
    assert b.routes(table=1000) == [
        {"dst": "10.9.0.0/16", "gateway": "10.8.0.1", "dev": "vb", "metric": 7, "table": 1000}
        | {"scope": 0, "proto": 3, "type": 1}  # universe, boot (ip route's default), unicast
    ]
    assert b.default_route(family=6) == {
        "dst": "::/0",
        "gateway": "fd00:8::1",
        "dev": "vb",
        "metric": 60,
        "table": 254,
        "scope": 0,
        "proto": 3,
        "type": 1,
    }
    rules = {r["priority"]: r for r in b.rules()}
    assert rules[200] == {
        "priority": 200,
        "table": 1000,
        "action": 1,  # FR_ACT_TO_TBL
        "src": "10.8.0.0/24",
        "dst": "10.9.0.0/16",
        "iif": "vb",
        "oif": "lo",
        "l3mdev": None,
        "fwmark": 7,
    }
    assert rules[300]["action"] == 8  # FR_ACT_PROHIBIT
    assert (rules[400]["l3mdev"], rules[400]["fwmark"]) == (1, None)
    state = b.state()
    assert "10.9.0.0/16 table 1000 dev vb via 10.8.0.1 metric 7 unicast" in state["routes"]
    assert [line for line in state["routes"] if "/0 " in line] == [
        "0.0.0.0/0 table main dev vb via 10.8.0.1 metric 50 unicast",
        "::/0 table main dev vb via fd00:8::1 metric 60 unicast",
    ]
    assert (
        "priority 200 table 1000 action to_tbl src 10.8.0.0/24 dst 10.9.0.0/16 iif vb oif lo fwmark 7 ipv4"
        in state["rules"]
    )
    assert "priority 300 table 0 action prohibit ipv4" in state["rules"]
    assert "priority 400 table 0 action to_tbl l3mdev 1 ipv4" in state["rules"]


def test_a_namespace_that_cannot_be_made_says_why():
    with pytest.raises(NetnsError, match=r"ip netns add cni-a/b-\S+: Invalid netns name \"cni-a/b-\S+\"$"):
        Netns("a/b")


def test_a_new_namespace_has_no_baseline_until_one_is_taken(cni_assert_clean):
    ns = Netns()
    try:
        assert ns.name.startswith("cni-pod-"), "the role is pod unless said otherwise"
        with pytest.raises(AssertionError, match=f"{ns.name} has no baseline"):
            cni_assert_clean(ns)
        ns.rebaseline()
        cni_assert_clean(ns)
    finally:
        ns.remove()


def test_run_raises_with_the_command_its_status_and_its_output(cni_netns):
    ns = cni_netns()
    with pytest.raises(AssertionError, match=rf"sh -c echo out; echo err >&2; exit 3 in {ns.name} exited 3:\nout\nerr"):
        ns.run("sh", "-c", "echo out; echo err >&2; exit 3")
    assert ns.run("false", check=False).returncode == 1
    assert ns.run("cat", input="given").stdout == "given"
    with pytest.raises(subprocess.TimeoutExpired):
        ns.run("sleep", "5", timeout=0.1)


def test_reading_a_removed_namespace_never_makes_it_again(cni_netns):
    ns = cni_netns()
    home = os.readlink("/proc/thread-self/ns/net")
    assert "lo" in ns.links()
    assert os.readlink("/proc/thread-self/ns/net") == home, "the reading thread stayed in the namespace"
    ns.remove()
    ns.remove()  # a second time: nothing to do
    with pytest.raises(FileNotFoundError):
        ns.links()
    assert not ns.exists


def test_reading_a_file_that_is_no_namespace_is_an_os_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError) as failed:
        Netns.from_path(tmp_path / "file").links()
    assert (failed.value.errno, failed.value.strerror) == (errno.EINVAL, "Invalid argument")
    assert os.readlink("/proc/thread-self/ns/net") == os.readlink("/proc/self/ns/net")


def test_a_namespace_removed_by_someone_else_is_removed_without_error(cni_netns):
    ns = cni_netns()
    subprocess.run(["ip", "netns", "delete", ns.name], check=True)
    ns.remove()
    assert ns.removed


def test_up_brings_a_device_up(cni_netns):
    ns = cni_netns()
    ns.run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    ns.up("v0")
    assert ns.link("v0").up and not ns.link("v1").up


def test_a_device_as_the_kernel_reports_it(cni_netns):
    ns = cni_netns()
    ns.run(
        "sh",
        "-ec",
        "ip link add v0 type veth peer name v1 && ip link add br0 type bridge"
        " && ip link set v0 master br0 mtu 1400 address 02:00:00:00:00:01 alias uplink group 7 up"
        " && ip tuntap add t0 mode tun",
    )
    v0, v1, br0, lo = (ns.link(name) for name in ("v0", "v1", "br0", "lo"))
    assert (v0.kind, v0.up, v0.mac, v0.mtu, v0.alias, v0.group) == (
        "veth",
        True,
        "02:00:00:00:00:01",
        1400,
        "uplink",
        7,
    )
    assert (v0.master, v0.link, v1.link) == (br0.index, v1.index, v0.index)
    assert (v1.up, v1.master, v1.alias, v1.group) == (False, 0, "", 0)
    assert br0.kind == "bridge" and br0.info_data.get("IFLA_BR_STP_STATE") == 0
    assert (lo.kind, lo.info_data, br0.link) == ("", None, 0)
    assert ns.link("t0").mac == "", "a tun device has no hardware address"
