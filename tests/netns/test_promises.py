"""docs/plugin.md's promises held against the real kernel and the real host-local.

Expected values are docs/plugin.md's and the spec's, written out here: names, the table of
its example network, a bridge MAC worked out by hand (FNV-1a 32 of the container ID,
0x86d04db5, behind 02:6b:), krafty's device group 0x6b7266 and its alias format.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from krafty.testing import Attachment, CniCallError, new_container_id

pytestmark = pytest.mark.cni_kernel("vrf")

CID = "0123456789abcdef0123456789abcdef"  # FNV-1a 32: 0x86d04db5
GROUP = 0x6B7266


def test_names_table_and_mac_are_the_docs(cni_runtime, cni_node, pod, net, clean):
    """docs/plugin.md's example network `krafty`: table 2698658016; names from the container ID."""
    added = cni_runtime.add(net.config(name="krafty"), pod, container_id=CID, ifname="net1")
    links = cni_node.links()
    assert {"krv0123456789ab", "krb0123456789ab", "veth0123456789a"} <= set(links)
    assert links["krv0123456789ab"].info_data.get("IFLA_VRF_TABLE") == 2698658016
    assert links["krb0123456789ab"].mac == "02:6b:86:d0:4d:b5"
    assert {i["name"] for i in added.result["interfaces"]} == {"krb0123456789ab", "veth0123456789a", "net1"}
    for name in ("krv0123456789ab", "krb0123456789ab", "veth0123456789a"):
        assert links[name].group == GROUP, f"{name} is not in krafty's device group"
        assert links[name].alias == f"krafty krafty net1 {CID}", f"{name} does not name its owner"
    cni_runtime.delete(added)
    clean(pod)


def test_add_installs_ipam_routes_passes_dns_and_sets_mtu_everywhere(cni_runtime, cni_node, pod, net, clean, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.96.0.10\nsearch svc.cluster.local\n")
    conf = net.config(mtu=1400)
    conf["ipam"]["routes"] = [{"dst": "0.0.0.0/0"}, {"dst": "10.99.0.0/16", "gw": "172.16.10.254"}]
    conf["ipam"]["resolvConf"] = str(resolv)
    added = cni_runtime.add(conf, pod, ifname="net1")
    routes = {(r["dst"], r.get("gw")) for r in added.result["routes"]}
    assert routes == {("0.0.0.0/0", "172.16.10.1"), ("10.99.0.0/16", "172.16.10.254")}
    installed = {(r["dst"], r["gateway"]) for r in pod.routes() if r["dev"] == "net1" and r["gateway"]}
    assert installed == routes, "the pod's routes differ from the result's"
    assert added.result["dns"]["nameservers"] == ["10.96.0.10"]
    assert added.result["dns"]["search"] == ["svc.cluster.local"]
    cid = added.container_id
    links = cni_node.links()
    for name in (f"krb{cid[:12]}", f"veth{cid[:11]}"):
        assert links[name].mtu == 1400, f"{name} has MTU {links[name].mtu}"
    assert pod.link("net1").mtu == 1400
    cni_runtime.delete(added)
    clean(pod)


def test_dns_from_the_config_with_a_static_pod_ip(cni_runtime, pod, net, clean):
    dns = {"nameservers": ["172.16.10.53"], "domain": "lab.example", "search": ["lab.example"]}
    added = cni_runtime.add(net.config(ipam=None, podIP="172.16.10.60", dns=dns), pod, ifname="net1")
    assert added.result["dns"] == dns
    cni_runtime.delete(added)
    clean(pod)


def test_check_names_each_drift(cni_runtime, cni_node, pod, net, clean):
    conf = net.config("1.1.0")
    added = cni_runtime.add(conf, pod, ifname="net1")
    cid = added.container_id
    vrf, bridge, veth = f"krv{cid[:12]}", f"krb{cid[:12]}", f"veth{cid[:11]}"
    mac = pod.link("net1").mac
    allocation = net.data_dir / net.name / added.result["ips"][0]["address"].split("/")[0]
    reservation = allocation.read_bytes()  # bytes: host-local's "\r\n" must survive
    default = ["default", "via", "172.16.10.1", "dev", "net1"]
    link_set = ["ip", "link", "set"]
    # (what drifted, where, how to break it, how to repair it, what the message must name)
    drifts = [
        ("bridge not enslaved", cni_node, [*link_set, bridge, "nomaster"], [*link_set, bridge, "master", vrf],
         f"bridge {bridge} is not enslaved"),
        ("veth not on the bridge", cni_node, [*link_set, veth, "nomaster"], [*link_set, veth, "master", bridge],
         f"host veth {veth} is not on bridge"),
        ("pod link down", pod, [*link_set, "net1", "down"],
         ["sh", "-c", f"ip link set net1 up && ip route replace {' '.join(default)}"], "pod interface net1 is down"),
        ("pod MAC changed", pod, [*link_set, "net1", "address", "02:00:00:00:00:01"],
         [*link_set, "net1", "address", mac], "pod interface net1 has MAC 02:00:00:00:00:01"),
        ("default route changed", pod, ["ip", "route", "replace", "default", "via", "172.16.10.254", "dev", "net1"],
         ["ip", "route", "replace", *default], "pod default route is via 172.16.10.254"),
    ]  # fmt: skip
    # A VRF's table cannot change under it; a config naming another table is the same comparison.
    with pytest.raises(CniCallError) as drift:
        cni_runtime.check(Attachment(net.config("1.1.0", vrfTable=4243), cid, "net1", pod))
    assert drift.value.code == 102 and f"VRF {vrf} has table 3372547843, want 4243" in drift.value.msg
    for what, where, breaks, repairs, named in drifts:
        where.run(*breaks)
        with pytest.raises(CniCallError) as drift:
            cni_runtime.check(added)
        assert drift.value.code == 102, f"{what}: {drift.value}"
        assert named in drift.value.msg, f"{what}: {drift.value.msg}"
        where.run(*repairs)
    allocation.unlink()  # host-local's CHECK: the reservation is gone
    with pytest.raises(CniCallError) as drift:
        cni_runtime.check(added)
    assert "host-local" in drift.value.msg, drift.value
    allocation.write_bytes(reservation)
    cni_runtime.check(added)  # repaired: every check passes again

    no_prev = cni_runtime.call("CHECK", conf, container_id=cid, netns=pod, ifname="net1")
    assert no_prev.status != 0 and no_prev.json["code"] == 7 and "prevResult" in no_prev.json["msg"]
    cni_runtime.delete(added)
    clean(pod)


def test_check_at_0_4_0(cni_runtime, pod, net, clean):
    added = cni_runtime.add(net.config("0.4.0"), pod, ifname="net1")
    cni_runtime.check(added)
    pod.run("ip", "link", "set", "net1", "down")
    with pytest.raises(CniCallError) as drift:
        cni_runtime.check(added)
    assert drift.value.code == 102 and "down" in drift.value.msg
    cni_runtime.delete(added)
    clean(pod)


def test_an_interrupted_adds_device_is_reused_by_its_own_attachment_and_left_alone_by_another(
    cni_runtime, cni_node, cni_netns, net, clean
):
    """A VRF in krafty's group without an alias: what an ADD killed between its two steps leaves.

    Another network's attachment for that container cannot have made it (its table differs), so
    it takes its derived VRF name, krv- + FNV-1a 32 of "other-net net1 <id>" (0xf31ae7e5, by
    hand), without touching it; its own attachment reuses it and records the owner, so the
    other attachment's DEL leaves it alone.
    """
    cid = CID
    vrf = "krv0123456789ab"
    cni_node.run("ip", "link", "add", "name", vrf, "type", "vrf", "table", "3372547843")  # krafty-test's table
    cni_node.run("ip", "link", "set", vrf, "group", str(GROUP))
    index = cni_node.link(vrf).index
    other = cni_runtime.add(net.config(name="other-net"), cni_netns(), container_id=cid, ifname="net1")
    others = [link.name for link in cni_node.links().values() if link.alias == f"krafty other-net net1 {cid}"]
    # each device picks its own name: the seed VRF is taken, the seed bridge is free
    assert sorted(others) == ["krb0123456789ab", "krv-f31ae7e5", "veth0123456789a"], others
    assert (cni_node.link(vrf).index, cni_node.link(vrf).alias) == (index, ""), "the other network's ADD touched it"
    added = cni_runtime.add(net.config(), cni_netns(), container_id=cid, ifname="net1")
    assert cni_node.link(vrf).index == index, "its own attachment must reuse the device"
    assert cni_node.link(vrf).alias == f"krafty {net.name} net1 {cid}", "the owner must be recorded now"
    cni_runtime.delete(other)
    assert cni_node.link(vrf).index == index, "another network's DEL removed the device"
    cni_runtime.delete(added)
    clean()


def test_a_repeated_add_reuses_the_vrf_and_the_bridge(cni_runtime, cni_kill_at, cni_node, pod, net, clean):
    cid = new_container_id()
    bridge = f"krb{cid[:12]}"
    cni_kill_at(net.config(), pod, lambda: bridge in cni_node.links(), container_id=cid, ifname="net1")
    before = {name: cni_node.link(name).index for name in (f"krv{cid[:12]}", bridge)}
    added = cni_runtime.add(net.config(), pod, container_id=cid, ifname="net1")  # the runtime's retry
    assert {name: cni_node.link(name).index for name in before} == before
    cni_runtime.delete(added)
    clean(pod)


def test_del_runs_every_step_when_ipam_del_fails_and_reports_it(cni_runtime, cni_node, pod, net, clean, tmp_path):
    broken = tmp_path / "ipam-del-broken"
    broken.touch()
    host_local = cni_runtime.find("host-local")
    cni_runtime.install(
        "flaky-ipam",
        f'if [ "$CNI_COMMAND" = DEL ] && [ -e {broken} ]; then\n'
        '  echo \'{"cniVersion": "1.0.0", "code": 11, "msg": "store busy"}\'; exit 1\nfi\n'
        f"exec {host_local}\n",
    )
    conf = net.config()
    conf["ipam"]["type"] = "flaky-ipam"
    added = cni_runtime.add(conf, pod, ifname="net1")
    with pytest.raises(CniCallError) as failed:
        cni_runtime.delete(added)
    assert failed.value.code == 11 and "store busy" in failed.value.msg
    cid = added.container_id
    assert not {f"krv{cid[:12]}", f"krb{cid[:12]}", f"veth{cid[:11]}"} & set(cni_node.links()), "devices kept"
    assert set(pod.links()) == {"lo"}, "the pod interface was kept"
    assert len(net.allocations()) == 1
    broken.unlink()
    cni_runtime.delete(added)  # the runtime retries; now IPAM releases
    clean(pod)


IPAM_1_1 = """\
echo "$CNI_COMMAND $(cat | tr -d '\\n')" >> {log}
case "$CNI_COMMAND" in
VERSION) echo '{{"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}}' ;;
esac
"""


def test_gc_and_status_are_forwarded_to_an_ipam_plugin_that_speaks_1_1_0(cni_runtime, net, tmp_path):
    log = tmp_path / "ipam.log"
    cni_runtime.install("ipam-11", IPAM_1_1.format(log=log))
    conf = net.config("1.1.0")
    conf["ipam"] = {"type": "ipam-11"}
    valid = [{"containerID": "c1", "ifname": "net1"}]
    collected = cni_runtime.call("GC", {**conf, "cni.dev/valid-attachments": valid})
    assert collected.status == 0, collected
    cni_runtime.status(conf)
    calls = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in log.read_text().splitlines()}
    assert '"cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "net1"}]' in calls["GC"]
    assert "STATUS" in calls
    missing = cni_runtime.call("GC", conf)
    assert missing.status != 0 and missing.json["code"] == 7 and "valid-attachments" in missing.json["msg"]


IPS = """echo '{{"cniVersion": "1.0.0", "ips": [{{"address": "{}"}}]}}'"""


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("echo 'out of luck' >&2; exit 3", "ADD exited with 3"),
        ("""echo '{"cniVersion": "1.0.0", "ips": [{"address": "fd00::5/64"}]}'""", "returned no IPv4 address"),
        (
            """echo '{"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5/24"}]}'""",
            "returned an address no pod can have: 10.0.0.5 is outside subnet 172.16.10.0/24",
        ),
        (
            """echo '{"cniVersion": "1.0.0", "ips": [{"address": "172.16.10.1/24"}]}'""",
            "returned an address no pod can have: 172.16.10.1 is the gateway",
        ),
    ],
    ids=["exit without an error object", "no IPv4", "outside the subnet", "the gateway"],
)
def test_unusable_ipam_answers_are_code_103(cni_runtime, pod, net, clean, answer, said):
    cni_runtime.install(
        "odd-ipam",
        """case "$CNI_COMMAND" in\n"""
        """VERSION) echo '{"cniVersion": "1.0.0", "supportedVersions": ["1.0.0"]}' ;;\n"""
        f"ADD) {answer} ;;\n"
        "esac\n",
    )
    conf = net.config()
    conf["ipam"] = {"type": "odd-ipam"}
    with pytest.raises(CniCallError) as failed:
        cni_runtime.add(conf, pod, ifname="net1")
    assert failed.value.code == 103, failed.value
    assert "IPAM plugin odd-ipam" in failed.value.msg and said in failed.value.msg, failed.value.msg
    cni_runtime.delete(failed.value.attachment)
    clean(pod)


def test_a_kernel_refusal_beyond_routes_is_code_100(cni_runtime, cni_node, cni_netns, net, clean):
    """With strict VRF mode two VRFs may not share a table: the second pod's VRF is refused."""
    cni_node.run("sysctl", "-w", "net.vrf.strict_mode=1")
    cni_node.rebaseline()  # the test's own setting, not the plugin's
    first = cni_runtime.add(net.config(), cni_netns(), ifname="net1")
    with pytest.raises(CniCallError) as refused:
        cni_runtime.add(net.config(), cni_netns(), ifname="net1")
    assert refused.value.code == 100
    assert f"krv{refused.value.attachment.container_id[:12]}" in refused.value.msg, "the message names the device"
    cni_runtime.delete(refused.value.attachment)
    cni_runtime.delete(first)
    clean()


def test_a_pod_with_a_default_route_keeps_it_first(cni_runtime, pod, net, clean):
    """Under Multus the primary CNI's default route is there before krafty's ADD."""
    pod.run("ip", "link", "add", "name", "eth0", "type", "dummy")
    pod.run("ip", "addr", "add", "10.244.1.5/24", "dev", "eth0")
    pod.run("ip", "link", "set", "eth0", "up")
    pod.run("ip", "route", "add", "default", "via", "10.244.1.1", "dev", "eth0")
    added = cni_runtime.add(net.config(), pod, ifname="net1")
    defaults = sorted((r["metric"], r["gateway"]) for r in pod.routes() if r["dst"] == "0.0.0.0/0")
    assert defaults == [(0, "10.244.1.1"), (1000, "172.16.10.1")]
    cni_runtime.delete(added)
    defaults = [(r["metric"], r["gateway"]) for r in pod.routes() if r["dst"] == "0.0.0.0/0"]
    assert defaults == [(0, "10.244.1.1")], "DEL must remove only krafty's route"
    clean()


def test_a_static_pod_ip_is_claimed_under_the_networks_lock(cni_runtime, cni_node, pod, net, clean):
    """The test holds the lock: the ADD must wait with nothing routed, then finish once released."""
    conf = net.config(ipam=None, podIP="172.16.10.70")
    cid = new_container_id()
    Path("/run/krafty").mkdir(mode=0o700, exist_ok=True)
    lock = os.open(f"/run/krafty/{net.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    outcome: dict = {}
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: outcome.update(added=cni_runtime.add(conf, pod, container_id=cid, ifname="net1"))
        )
        worker.start()
        deadline = time.monotonic() + 300
        while f"krb{cid[:12]}" not in cni_node.links() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"krb{cid[:12]}" in cni_node.links(), "the ADD never got as far as its bridge"
        worker.join(timeout=20)  # time enough to route and finish, were it not waiting
        assert worker.is_alive(), "the ADD finished while the lock was held"
        routed = [r for r in cni_node.routes(3372547843) if r["dst"] == "172.16.10.70/32"]
        assert routed == [], "the address was routed while the lock was held"
    finally:
        os.close(lock)  # releases the lock
    worker.join(timeout=300)
    assert "added" in outcome, "the ADD did not finish after the lock was released"
    assert [r["dst"] for r in cni_node.routes(3372547843) if r["dst"] == "172.16.10.70/32"] == ["172.16.10.70/32"]
    cni_runtime.delete(outcome["added"])
    clean(pod)
