"""krafty.dataplane's requests against the real kernel where no VRF is needed: what `ip route`
shows after each."""

from __future__ import annotations

from ipaddress import IPv4Address

from krafty import dataplane

TABLE = 1234  # above 255: the table number travels in RTA_TABLE


def routes(ns, table: int = TABLE) -> str:
    return ns.run("ip", "-4", "route", "show", "table", str(table)).stdout


def test_a_pods_route_goes_in_its_table_scope_link_and_unroute_takes_it_out(cni_node):
    cni_node.run("ip", "link", "add", "br0", "up", "type", "bridge")
    with dataplane.Netns(cni_node.path) as node:
        node.route_pod("br0", IPv4Address("10.9.0.7"), TABLE, exclusive=True)
        assert routes(cni_node) == "10.9.0.7 dev br0 proto static scope link \n"
        node.unroute_pod("br0", IPv4Address("10.9.0.7"), TABLE)
        assert routes(cni_node) == "", "the route stayed: a delete that names another scope matches nothing"
        node.unroute_pod("br0", IPv4Address("10.9.0.7"), TABLE)  # gone already: nothing to do, no error


def test_a_static_address_another_device_routes_is_refused(cni_node):
    for name in ("br0", "br1"):
        cni_node.run("ip", "link", "add", name, "up", "type", "bridge")
    with dataplane.Netns(cni_node.path) as node:
        node.route_pod("br0", IPv4Address("10.9.0.7"), TABLE, exclusive=True)
        try:
            node.route_pod("br1", IPv4Address("10.9.0.7"), TABLE, exclusive=True)
        except dataplane.AddressInUse as err:
            assert str(err).startswith("10.9.0.7 is already routed to another pod (ifindex ")
        else:
            raise AssertionError("a second device got the address")
        assert "dev br0" in routes(cni_node) and "br1" not in routes(cni_node)
