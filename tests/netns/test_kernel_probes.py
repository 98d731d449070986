"""Each built-in kernel feature's probe says what the kernel says.

The expected answer is the kernel's own: the device of that kind is created directly over
netlink (pyroute2, not the probe's iproute2 command line) in a throwaway namespace. On this
host's kernel some features are there and some are not (the netns layer's usual host has
macvlan, bridge, veth and vxlan, and lacks vrf, dummy, ipvlan and vlan), so both answers are
checked; in the VM (Debian's kernel, every feature a module) the last test holds every probe true.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from krafty.testing import kernel
from krafty.testing.netns import Netns

BUILT_IN = ("vrf", "bridge", "veth", "dummy", "vxlan", "macvlan", "ipvlan", "vlan")

# What each feature is, written out as netlink requests; {parent} is a veth's index.
DIRECT: dict[str, dict] = {
    "vrf": {"kind": "vrf", "vrf_table": 10},
    "bridge": {"kind": "bridge"},
    "veth": {"kind": "veth", "peer": "direct1"},
    "dummy": {"kind": "dummy"},
    "vxlan": {"kind": "vxlan", "vxlan_id": 7, "vxlan_port": 4789},
    "macvlan": {"kind": "macvlan", "macvlan_mode": "bridge", "link": "parent"},
    "ipvlan": {"kind": "ipvlan", "ipvlan_mode": 0, "link": "parent"},  # L2
    "vlan": {"kind": "vlan", "vlan_id": 7, "link": "parent"},
}


def kernel_creates(ns: Netns, feature: str) -> bool:
    """The kernel's answer: can it make a device of this kind here (an ethernet parent given)?"""
    request = dict(DIRECT[feature])
    with ns.ipr() as ipr:
        if request.get("link") == "parent":
            ipr.link("add", ifname="parent0", kind="veth", peer="parent1")
            request["link"] = ipr.link_lookup(ifname="parent0")[0]
        try:
            ipr.link("add", ifname="direct0", **request)
        except NetlinkError as err:
            if err.code != errno.EOPNOTSUPP:  # "Unknown device type"; anything else is this test's mistake
                raise
            return False
        return bool(ipr.link_lookup(ifname="direct0"))


@pytest.mark.parametrize("feature", BUILT_IN)
def test_the_probe_answers_what_the_kernel_answers(feature: str, cni_netns: Callable[..., Netns]):
    expected = kernel_creates(cni_netns("direct"), feature)
    assert kernel.probe(feature) is expected, f"{feature}: the kernel says {expected}"


def test_every_built_in_feature_is_covered_here():
    assert set(kernel.FEATURES) >= set(BUILT_IN) and set(DIRECT) == set(BUILT_IN)


@pytest.mark.cni_kernel(*BUILT_IN)
def test_a_kernel_with_every_feature_passes_every_probe():
    """Runs where the kernel has them all: in the VM here, whose modules the relay loads."""
    assert {name: kernel.probe(name) for name in BUILT_IN} == dict.fromkeys(BUILT_IN, True)


def test_a_probe_prints_nothing_and_only_its_exit_status_counts(capfd, monkeypatch):
    """A probe's own words (iproute2's "Unknown device type") never reach the test's output."""
    monkeypatch.setattr(kernel, "FEATURES", dict(kernel.FEATURES))
    kernel.register_feature("noisy-there", ("sh", "-c", "echo out; echo err >&2"), ())
    kernel.register_feature("noisy-missing", ("sh", "-c", "echo out; echo err >&2; exit 2"), ())
    assert (kernel.probe("noisy-there"), kernel.probe("noisy-missing")) == (True, False)
    assert capfd.readouterr() == ("", "")


# The docs' table: the devices that need an ethernet parent, made on a veth `probe0`.
ON_A_VETH = {"macvlan": "type macvlan mode bridge", "ipvlan": "type ipvlan mode l2", "vlan": "type vlan id 5"}


@pytest.mark.parametrize("feature", sorted(ON_A_VETH))
def test_a_probe_made_on_a_veth_parent_answers_what_the_kernel_answers(
    feature: str, cni_netns: Callable[..., Netns], monkeypatch
):
    """The built-in probes are made at import; this makes one afresh, as the table gives it."""
    monkeypatch.setattr(kernel, "FEATURES", dict(kernel.FEATURES))
    kernel.register_feature("made-here", kernel._on_a_veth(ON_A_VETH[feature]), ())
    expected = kernel_creates(cni_netns("direct"), feature)
    assert kernel.probe("made-here") is expected, f"{feature}: the kernel says {expected}"
