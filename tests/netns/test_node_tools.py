"""krafty inspect / gc / demo on a real node namespace."""

from __future__ import annotations

import json

import pytest

from krafty import naming
from krafty.testing import new_container_id

pytestmark = pytest.mark.cni_kernel("vrf")


def krafty(cni_runtime) -> str:
    return str(cni_runtime.find("krafty"))


def inspect(cni_runtime, net, *extra: str) -> list[dict]:
    out = cni_runtime.node.run(krafty(cni_runtime), "inspect", "--json", "--ipam-dir", str(net.data_dir), *extra)
    return json.loads(out.stdout)


def test_inspect_lists_an_attachment_with_its_devices_pod_and_allocation(cni_runtime, cni_node, pod, net, clean):
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    cid = added.container_id
    [entry] = inspect(cni_runtime, net)
    assert entry["containerID"] == cid
    assert (entry["vrf"], entry["bridge"], entry["hostVeth"]) == (
        naming.vrf_name(cid),
        naming.bridge_name(cid),
        naming.host_veth_name(cid),
    )
    assert entry["table"] == naming.default_vrf_table(net.name)
    assert entry["podNetns"] == pod.path
    assert entry["podAddresses"] == [added.result["ips"][0]["address"]]
    assert entry["allocations"] == [added.result["ips"][0]["address"].split("/")[0]]
    assert entry["orphan"] is False
    human = cni_node.run(krafty(cni_runtime), "inspect", "--ipam-dir", str(net.data_dir)).stdout
    assert naming.vrf_name(cid) in human and pod.path in human
    cni_runtime.delete(added)
    clean(pod)


def test_gc_removes_what_a_vanished_pod_left_behind(cni_runtime, cni_node, cni_netns, net, clean):
    pod = cni_netns()
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    cid = added.container_id
    pod.remove()  # the runtime lost the pod and never called DEL: the veth went with the netns
    [entry] = inspect(cni_runtime, net)
    assert entry["orphan"] is True
    assert any("veth" in problem for problem in entry["problems"])

    dry = cni_node.run(krafty(cni_runtime), "gc", "--dry-run", "--ipam-dir", str(net.data_dir)).stdout
    assert f"would remove vrf {naming.vrf_name(cid)}" in dry
    assert inspect(cni_runtime, net)[0]["vrf"] == naming.vrf_name(cid), "--dry-run removed something"

    done = cni_node.run(krafty(cni_runtime), "gc", "--ipam-dir", str(net.data_dir)).stdout
    assert f"removed bridge {naming.bridge_name(cid)}" in done
    assert inspect(cni_runtime, net) == [], "gc left devices or the allocation behind"
    clean()
    cni_runtime.delete(added)  # the runtime's late DEL finds nothing, and succeeds
    clean()


def test_gc_releases_an_allocation_without_devices(cni_runtime, cni_node, pod, net, clean):
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    cid = added.container_id
    address = added.result["ips"][0]["address"].split("/")[0]
    for name in (naming.host_veth_name(cid), naming.bridge_name(cid), naming.vrf_name(cid)):
        cni_node.run("ip", "link", "del", name)
    [entry] = inspect(cni_runtime, net, "--network", net.name)
    assert entry["problems"] == ["host-local allocation without devices"]
    gc = [krafty(cni_runtime), "gc", "--network", net.name, "--ipam-dir", str(net.data_dir)]
    done = cni_node.run(*gc).stdout
    assert f"removed host-local {net.name} {address}" in done
    clean()
    cni_runtime.delete(added)
    clean(pod)  # the pod's end went with the host veth


def test_demo_attaches_pods_proves_connectivity_and_tears_down(cni_runtime, cni_node):
    demo = cni_node.run(krafty(cni_runtime), "demo", "--pods", "2", check=False)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert demo.stdout.count("  ok   ") == 4, demo.stdout
    assert demo.stdout.splitlines()[-1] == (
        "shown: 2 pods attached through krafty, each with its VRF, bridge and veth pair; "
        "4 of 4 connectivity checks passed; all torn down"
    )
    assert "krafty-demo" not in cni_node.run("ip", "netns", "list").stdout


def test_an_empty_reservation_a_killed_host_local_left_is_found_and_removed(cni_runtime, cni_node, net, clean):
    """host-local creates its reservation file, then writes the owner into it: killed in between,
    it leaves a file that no DEL can match (the container ID is what DEL matches on)."""
    store = net.data_dir / net.name
    store.mkdir()
    (store / "172.16.10.10").write_text("")
    [entry] = inspect(cni_runtime, net, "--network", net.name)
    assert entry["problems"] == ["host-local reservation without a container ID (an IPAM ADD killed while writing it)"]
    gc = [krafty(cni_runtime), "gc", "--network", net.name, "--ipam-dir", str(net.data_dir)]
    assert f"removed host-local {net.name} 172.16.10.10" in cni_node.run(*gc).stdout
    clean()


def test_inspect_and_gc_keep_two_attachments_of_one_container_apart(cni_runtime, cni_node, cni_netns, net, clean):
    """eth0 and net1 of one container on one network: two entries, each with its own devices and
    its own host-local reservation (matched on the interface); once the pod is gone, gc removes
    both sets."""
    pod = cni_netns()
    cid = new_container_id()
    added = {ifname: cni_runtime.add(net.config(), pod, container_id=cid, ifname=ifname) for ifname in ("eth0", "net1")}
    entries = {entry["ifname"]: entry for entry in inspect(cni_runtime, net)}
    assert set(entries) == {"eth0", "net1"}, entries
    for ifname, attachment in added.items():
        bridge = attachment.result["interfaces"][0]["name"]
        assert entries[ifname]["bridge"] == bridge, f"{ifname}: {entries[ifname]}"
        assert entries[ifname]["allocations"] == [attachment.result["ips"][0]["address"].split("/")[0]], ifname
        assert entries[ifname]["orphan"] is False, entries[ifname]["problems"]
    assert entries["eth0"]["vrf"] != entries["net1"]["vrf"]

    pod.remove()  # the runtime lost the pod: both veths went with it
    done = cni_node.run(krafty(cni_runtime), "gc", "--ipam-dir", str(net.data_dir)).stdout
    for entry in entries.values():
        assert f"removed vrf {entry['vrf']}" in done, done
    assert inspect(cni_runtime, net) == [], "gc left devices or allocations behind"
    for attachment in added.values():
        cni_runtime.forget(attachment)  # gc removed everything; nothing is left for a DEL
    clean()
