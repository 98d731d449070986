"""One container attached more than once, and container IDs that share their seed prefix.

The state key of an attachment is (network, container ID, CNI_IFNAME). The expected names are
docs/plugin.md's rule worked out by hand: the first attachment of a container gets the seed names
(`krv`/`krb` + ID[:12], `veth` + ID[:11]); one whose seed name is held by another attachment
gets `krv-`/`krb-`/`veth-` + FNV-1a 32 of "<network> <ifname> <containerID>" in 8 hex digits,
and its bridge the MAC 02:6b: + the same 4 bytes. Hashes (the shell function in
tests/unit/test_naming.py):

    fnv "krafty-test net1 0123456789abcdef0123456789abcdef" = 0xca219035
    fnv "krafty-test eth0 0123456789abcdef0123456789abcdef" = 0xa1049638
    fnv "other-net net2 0123456789abcdef0123456789abcdef"   = 0xd27405ae
    fnv "krafty-test net1 <PREFIX>bbbb"                     = 0x4a4c24b9
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from krafty.testing import Attachment

pytestmark = pytest.mark.cni_kernel("vrf")

CID = "0123456789abcdef0123456789abcdef"
SEED = {"vrf": "krv0123456789ab", "bridge": "krb0123456789ab", "veth": "veth0123456789a"}
NET1 = {"vrf": "krv-ca219035", "bridge": "krb-ca219035", "veth": "veth-ca219035"}
ETH0 = {"vrf": "krv-a1049638", "bridge": "krb-a1049638", "veth": "veth-a1049638"}
NET2 = {"vrf": "krv-d27405ae", "bridge": "krb-d27405ae", "veth": "veth-d27405ae"}
PREFIX = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"  # 60 characters
DEVICE_LOCK = "/run/krafty/_devices.lock"


def other_network(net) -> dict:
    """A second network, on its own subnet so that the pod's addresses stay distinct."""
    conf = net.config(name="other-net", subnet="172.16.20.0/24", gateway="172.16.20.1")
    conf["ipam"]["ranges"] = [[{"subnet": "172.16.20.0/24", "rangeStart": "172.16.20.10", "rangeEnd": "172.16.20.250"}]]
    return conf


def assert_devices(node, names: dict[str, str], owner: str, mac: str | None = None) -> None:
    """The three node-side devices exist under these names, chained, and name their owner."""
    links = node.links()
    missing = [name for name in names.values() if name not in links]
    assert not missing, f"{owner}: missing {missing}"
    vrf, bridge, veth = links[names["vrf"]], links[names["bridge"]], links[names["veth"]]
    assert (vrf.kind, bridge.master, veth.master) == ("vrf", vrf.index, bridge.index), f"{owner}: not chained"
    for link in (vrf, bridge, veth):
        assert link.alias == f"krafty {owner}", f"{link.name} names {link.alias!r}, not {owner}"
    if mac is not None:
        assert bridge.mac == mac, f"bridge {bridge.name} has MAC {bridge.mac}, want {mac}"


def test_one_container_twice_on_a_network_and_once_on_another(cni_runtime, cni_node, pod, net, clean):
    """eth0 and net1 on krafty-test, net2 on other-net: distinct devices and addresses; DEL of
    net1 without prevResult removes only net1's; the other two still pass CHECK."""
    first = cni_runtime.add(net.config(), pod, container_id=CID, ifname="eth0")
    second = cni_runtime.add(net.config(), pod, container_id=CID, ifname="net1")
    third = cni_runtime.add(other_network(net), pod, container_id=CID, ifname="net2")
    assert_devices(cni_node, SEED, f"krafty-test eth0 {CID}", mac="02:6b:86:d0:4d:b5")
    assert_devices(cni_node, NET1, f"krafty-test net1 {CID}", mac="02:6b:ca:21:90:35")
    assert_devices(cni_node, NET2, f"other-net net2 {CID}", mac="02:6b:d2:74:05:ae")
    addresses = {a.ifname: a.result["ips"][0]["address"] for a in (first, second, third)}
    assert addresses == {"eth0": "172.16.10.10/24", "net1": "172.16.10.11/24", "net2": "172.16.20.10/24"}
    for ifname, address in addresses.items():
        assert address in pod.addresses(ifname), f"pod interface {ifname} lacks {address}"
    for attachment in (first, second, third):
        cni_runtime.check(attachment)

    deleted = cni_runtime.call("DEL", net.config(), container_id=CID, netns=pod, ifname="net1")
    assert deleted.status == 0, deleted
    cni_runtime.forget(second)  # DEL'd above, without the cached result
    assert not set(NET1.values()) & set(cni_node.links()), "net1's devices outlived its DEL"
    assert "net1" not in pod.links()
    assert net.allocations() == ["172.16.10.10"], "net1's address was not released"
    for attachment in (first, third):
        cni_runtime.check(attachment)

    cni_runtime.delete(third)
    cni_runtime.delete(first)
    clean(pod)


def test_container_ids_sharing_their_first_60_characters(cni_runtime, cni_node, cni_netns, net, clean):
    """The second container's seed names are the first one's: it gets its derived names, and
    DEL of the first (the seed names' owner) leaves the second passing CHECK."""
    pod_a, pod_b = cni_netns(), cni_netns()
    a = cni_runtime.add(net.config(), pod_a, container_id=PREFIX + "aaaa", ifname="net1")
    b = cni_runtime.add(net.config(), pod_b, container_id=PREFIX + "bbbb", ifname="net1")
    assert_devices(cni_node, SEED, f"krafty-test net1 {PREFIX}aaaa")
    derived = {"vrf": "krv-4a4c24b9", "bridge": "krb-4a4c24b9", "veth": "veth-4a4c24b9"}
    assert_devices(cni_node, derived, f"krafty-test net1 {PREFIX}bbbb", mac="02:6b:4a:4c:24:b9")
    cni_runtime.delete(a)
    assert not set(SEED.values()) & set(cni_node.links()), "the first container's devices outlived its DEL"
    cni_runtime.check(b)
    cni_runtime.delete(b)
    clean(pod_a, pod_b)


def test_parallel_adds_of_one_container_pick_and_name_devices_under_the_lock(cni_runtime, cni_node, pod, net, clean):
    """Two ADDs of one container (eth0, net1) at once. While the test holds the device lock
    neither may create a device (creating and naming a device happen under it, so neither can
    take the other's unnamed VRF for a leftover); once released both succeed, one with the seed
    names and one with its derived names."""
    Path("/run/krafty").mkdir(mode=0o700, exist_ok=True)
    outcome: dict[str, Attachment | Exception] = {}

    def add(ifname: str) -> None:
        try:
            outcome[ifname] = cni_runtime.add(net.config(), pod, container_id=CID, ifname=ifname)
        except Exception as err:  # noqa: BLE001 - the main thread asserts on every outcome
            outcome[ifname] = err

    lock = os.open(DEVICE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        workers = [threading.Thread(target=add, args=(ifname,)) for ifname in ("eth0", "net1")]
        for worker in workers:
            worker.start()
        time.sleep(20)  # time enough, in the VM, to start both plugins and create a VRF
        made = [name for name in cni_node.links() if name.startswith(("krv", "krb", "veth"))]
        assert made == [], f"devices created while the device lock was held: {made}"
        assert all(worker.is_alive() for worker in workers), f"an ADD finished under the lock: {outcome}"
    finally:
        os.close(lock)  # releases the lock
    for worker in workers:
        worker.join(timeout=300)
    failed = {ifname: str(o) for ifname, o in outcome.items() if not isinstance(o, Attachment)}
    assert set(outcome) == {"eth0", "net1"} and not failed, f"parallel ADDs failed: {failed or outcome}"
    bridges = {ifname: outcome[ifname].result["interfaces"][0]["name"] for ifname in ("eth0", "net1")}
    assert bridges in (
        {"eth0": SEED["bridge"], "net1": NET1["bridge"]},
        {"eth0": ETH0["bridge"], "net1": SEED["bridge"]},
    ), f"bridges {bridges}"
    for ifname in ("eth0", "net1"):
        cni_runtime.delete(outcome[ifname])
    clean(pod)
