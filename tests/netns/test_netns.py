"""The Netns helpers a plugin's tests read the kernel with: families, ping, DAD, missing devices."""

from __future__ import annotations

import pytest

from krafty.testing import NetnsError


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
