"""`cni_assert_clean` sees each kind of leak a plugin can leave, made by hand after the baseline.

Every case: a fresh namespace, its set-up, a new baseline (clean at once), then exactly one leak,
which the check must name. Expected lines are written out here, not computed by the harness.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.netns.test_harness import run_pytest

# IPv6 off on the veths: their carrier comes up a moment after "up" (linkwatch), and with it a
# link-local address and multicast routes that would race the baseline (docs/harness/clean.md).
VETHS = (
    "ip link add v0 type veth peer name v1"
    " && sysctl -qw net.ipv6.conf.v0.disable_ipv6=1 net.ipv6.conf.v1.disable_ipv6=1"
    " && ip link set v0 up && ip link set v1 up"
)

# (set-up before the baseline, the leak, a line the failure must contain)
LEAKS = {
    "iptables rule": ("", "iptables -A FORWARD -j DROP", "netfilter left: iptables filter -A FORWARD -j DROP"),
    "ip6tables rule": ("", "ip6tables -A FORWARD -j DROP", "netfilter left: ip6tables filter -A FORWARD -j DROP"),
    "legacy ip6tables rule": (
        "",
        "ip6tables-legacy -A FORWARD -j DROP",
        "netfilter left: ip6tables-legacy filter -A FORWARD -j DROP",
    ),
    "route": (
        VETHS + " && ip addr add 10.9.0.1/24 dev v0",
        "ip route add 10.10.0.0/16 via 10.9.0.2 table 100",
        "routes left: 10.10.0.0/16 table 100 dev v0 via 10.9.0.2 metric 0 unicast",
    ),
    "rule": (
        "",
        "ip rule add to 10.10.0.0/16 table 100 priority 5",
        "rules left: priority 5 table 100 action to_tbl dst 10.10.0.0/16 ipv4",
    ),
    "nft table": ("", "nft add table inet leak", "netfilter left: nft table inet leak"),
    "legacy iptables rule": (
        "",
        "iptables-legacy -A FORWARD -j DROP",
        "netfilter left: iptables-legacy filter -A FORWARD -j DROP",
    ),
    "ip_forward": ("", "sysctl -qw net.ipv4.ip_forward=1", "sysctls changed: net.ipv4.ip_forward: 0 -> 1"),
    "rp_filter": (
        "",
        "sysctl -qw net.ipv4.conf.all.rp_filter=2",
        "sysctls changed: net.ipv4.conf.all.rp_filter: 0 -> 2",
    ),
    "per-device sysctl": (
        VETHS,
        "sysctl -qw net.ipv4.conf.v0.arp_notify=1",
        "sysctls changed: net.ipv4.conf.v0.arp_notify: 0 -> 1",
    ),
    "tc qdisc": (
        "",
        "tc qdisc add dev lo root tbf rate 1mbit burst 32kbit latency 400ms",
        "tc left: lo: qdisc tbf",
    ),
    "tc filter": (
        "tc qdisc add dev lo ingress",
        "tc filter add dev lo ingress protocol all prio 1 u32 match u32 0 0 classid 1:1",
        "tc left: lo: filter ingress u32 protocol all pref 1",
    ),
    "mtu": ("", "ip link set lo mtu 1280", "devices changed: lo mtu: 65536 -> 1280"),
    "link down": (VETHS, "ip link set v0 down", "devices changed: v0 state: up -> down"),
    "master": (VETHS + " && ip link add br0 type bridge", "ip link set v0 master br0", "v0 master: - -> br0"),
    "mac": (
        VETHS + " && ip link set v0 address 02:00:00:00:00:41",
        "ip link set v0 address 02:00:00:00:00:42",
        "devices changed: v0 mac: 02:00:00:00:00:41 -> 02:00:00:00:00:42",
    ),
    "alias": ("", "ip link set lo alias leak", "devices changed: lo alias:  -> leak"),
    "address moved": (
        VETHS + " && ip addr add 10.9.0.1/24 dev v0",
        "ip addr del 10.9.0.1/24 dev v0 && ip addr add 10.9.0.1/24 dev v1",
        "addresses left: 10.9.0.1/24 dev v1",
    ),
    "permanent neighbour": (
        VETHS,
        "ip neigh add 10.9.0.7 lladdr 02:00:00:00:00:07 dev v0 nud permanent",
        "neighbours left: 10.9.0.7 dev v0 lladdr 02:00:00:00:00:07 permanent",
    ),
}


@pytest.mark.parametrize("setup, leak, expected", LEAKS.values(), ids=LEAKS.keys())
def test_each_kind_of_leak_is_named(cni_netns, cni_assert_clean, setup, leak, expected):
    ns = cni_netns("node")
    if setup:
        ns.run("sh", "-ec", setup)
    ns.rebaseline()
    cni_assert_clean(ns)  # the set-up is the baseline: clean
    ns.run("sh", "-ec", leak)
    with pytest.raises(AssertionError) as failed:
        cni_assert_clean(ns)
    assert expected in str(failed.value), str(failed.value)


def test_traffic_is_no_leak(cni_netns, cni_assert_clean):
    """Counters, neighbour caches and routes the kernel caches move with traffic: not state."""
    ns = cni_netns("node")
    ns.run("sh", "-ec", "iptables -A OUTPUT -j ACCEPT && nft add table inet t")
    ns.run("nft", "add", "chain", "inet", "t", "c", "{ type filter hook output priority 0; }")
    ns.run("sh", "-ec", "nft add rule inet t c counter && " + VETHS + " && ip addr add 10.9.0.1/24 dev v0")
    ns.rebaseline()
    ns.run("ping", "-c", "2", "-i", "0.2", "10.9.0.1")
    ns.run("ping", "-c", "1", "-W", "1", "10.9.0.2", check=False)  # an incomplete neighbour entry
    cni_assert_clean(ns)


def test_a_namespace_without_a_baseline_is_refused(cni_netns, cni_assert_clean):
    from krafty.testing import Netns

    foreign = Netns.from_path(cni_netns().path)
    assert foreign.snapshot is None
    with pytest.raises(AssertionError, match=f"{foreign.name} has no baseline"):
        cni_assert_clean(foreign)


def test_rebaseline_accepts_the_tests_own_set_up(cni_node, cni_assert_clean):
    cni_node.run("ip", "link", "add", "mine", "type", "bridge")
    with pytest.raises(AssertionError, match=r"links left: mine \(bridge\)"):
        cni_assert_clean(cni_node)
    cni_node.rebaseline()
    cni_assert_clean(cni_node)


def test_a_vanished_node_is_reported_a_vanished_pod_is_not(cni_netns, cni_assert_clean):
    node, pod = cni_netns("node"), cni_netns("pod")
    pod.remove()
    cni_assert_clean(pod)
    node.remove()
    with pytest.raises(AssertionError, match=f"{node.name}: the node namespace is gone"):
        cni_assert_clean(node)


def test_allow_in_one_namespace_only(cni_netns, cni_assert_clean):
    a, b = cni_netns("node"), cni_netns("node")
    for ns in (a, b):
        ns.run("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=2")
    cni_assert_clean.allow("rp_filter", a)
    with pytest.raises(AssertionError) as failed:
        cni_assert_clean(a, b)
    assert f"{b.name}: sysctls changed: net.ipv4.conf.all.rp_filter: 0 -> 2" in str(failed.value)
    assert a.name not in str(failed.value)


def test_add_parent_serves_a_real_macvlan(cni_runtime, cni_node, cni_netns, cni_assert_clean, tmp_path):
    parent = cni_node.add_parent("parent0")
    assert parent.kind in ("dummy", "ifb") and parent.up
    conf = {
        "cniVersion": "1.0.0",
        "name": "parented",
        "type": "macvlan",
        "master": "parent0",
        "ipam": {"type": "host-local", "subnet": "10.250.9.0/24", "dataDir": str(tmp_path / "ipam")},
    }
    pod = cni_netns()
    attachment = cni_runtime.add(conf, pod)
    eth0 = pod.link("eth0")
    assert eth0.kind == "macvlan" and eth0.link == parent.index
    cni_runtime.delete(attachment)
    cni_assert_clean(cni_node, pod, ipam_dirs=[tmp_path / "ipam"])


def bridge_without_data_dir(name: str) -> dict:
    """host-local without `dataDir`: its store is /var/lib/cni/networks/<name> (the default)."""
    return {
        "cniVersion": "1.0.0",
        "name": name,
        "type": "bridge",
        "bridge": "cni-priv0",
        "ipam": {"type": "host-local", "subnet": "10.250.8.0/24"},
    }


@pytest.fixture
def host_store_removed():
    """The store host-local would write on the host; removed after the test (and after the
    runtime's teardown DEL: list this fixture first) if containment failed."""
    made = [p for p in (Path("/var/lib/cni"), Path("/var/lib/cni/networks")) if not p.exists()]
    store = Path("/var/lib/cni/networks", f"private-{uuid.uuid4().hex[:12]}")
    yield store
    if store.exists():
        shutil.rmtree(store)
        for directory in reversed(made):
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()


@pytest.mark.cni_private_mounts
def test_private_mounts_contain_host_local_without_a_data_dir(
    host_store_removed, cni_runtime, cni_node, cni_netns, cni_assert_clean
):
    host_store, name = host_store_removed, host_store_removed.name
    pod = cni_netns()  # made after the mount namespace: its /run/netns path is seen there too
    attachment = cni_runtime.add(bridge_without_data_dir(name), pod)
    assert not host_store.exists(), "host-local wrote to the host's /var/lib/cni"
    address = attachment.result["ips"][0]["address"].split("/")[0]
    with pytest.raises(AssertionError, match=rf"private mount: /var/lib/cni/networks/{name}/{address}\b"):
        cni_assert_clean()  # the DEL forgotten: the reservation is listed
    cni_runtime.delete(attachment)
    cni_node.run("ip", "link", "del", "cni-priv0")
    cni_assert_clean(cni_node, pod)
    assert not host_store.exists()


@pytest.mark.parametrize("how", ["marker", "ini"])
def test_a_private_mount_holder_is_gone_after_the_test(tmp_path, how):
    source = f"""
        import pytest

        {"@pytest.mark.cni_private_mounts" if how == "marker" else ""}
        def test_it(cni_runtime):
            print("HOLDER", cni_runtime.mounts.holder.pid)
    """
    done = run_pytest(tmp_path, source, "-s", *(["-o", "cni_private_mounts=true"] if how == "ini" else []))
    assert done.returncode == 0, done.stdout
    pid = int(done.stdout.split("HOLDER ")[1].split()[0])
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


AUTO_CLEAN = """
    import pytest

    PTP = {{"cniVersion": "1.0.0", "name": "auto", "type": "ptp",
           "ipam": {{"type": "host-local", "subnet": "10.250.7.0/24", "dataDir": "{data_dir}"}}}}

    {marker}
    def test_leaves_only_an_attachment(cni_runtime, cni_netns, cni_assert_clean):
        cni_runtime.add(PTP, cni_netns())  # no DEL: the runtime's teardown DELs it before the check
        cni_assert_clean.allow("forward")  # ptp turns forwarding on in the node, by design
        cni_assert_clean.allow("accept_redirects")

    {marker}
    def test_leaks(cni_node):
        cni_node.run("iptables", "-A", "FORWARD", "-j", "DROP")

    {marker}
    def test_fails_and_leaks(cni_node):
        cni_node.run("iptables", "-A", "FORWARD", "-j", "DROP")
        assert False, "failed on its own"
"""


@pytest.mark.parametrize("how", ["marker", "ini"])
def test_the_cni_clean_check_at_teardown_fails_a_test_that_leaks(tmp_path, how):
    marker = "@pytest.mark.cni_clean" if how == "marker" else ""
    source = AUTO_CLEAN.format(data_dir=tmp_path / "ipam", marker=marker)
    done = run_pytest(tmp_path, source, *(["-o", "cni_clean=true"] if how == "ini" else []))
    assert done.returncode == 1, done.stdout
    assert "1 failed, 2 passed, 1 error" in done.stdout, done.stdout  # the teardown error of a passed test
    assert "ERROR at teardown of test_leaks" in done.stdout, done.stdout
    assert "ERROR at teardown of test_fails_and_leaks" not in done.stdout, done.stdout
    assert "cni_clean: left behind:" in done.stdout and "-A FORWARD -j DROP" in done.stdout, done.stdout


def test_without_cni_clean_nothing_is_checked_at_teardown(tmp_path):
    done = run_pytest(tmp_path, AUTO_CLEAN.format(data_dir=tmp_path / "ipam", marker=""))
    assert done.returncode == 1 and "1 failed, 2 passed in" in done.stdout, done.stdout


def test_a_new_device_is_said_once_as_a_link(cni_netns, cni_assert_clean):
    """Its sysctls, attributes and qdiscs are not listed too: per-device parts cover the baseline's devices."""
    ns = cni_netns("node")
    ns.run("ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    found = cni_assert_clean.problems(ns)
    assert found == [f"{ns.name}: links left: v0 (veth)", f"{ns.name}: links left: v1 (veth)"]


@pytest.mark.cni_private_mounts("/run/krafty-private-test/x")
def test_private_mounts_over_run_keep_run_netns(cni_runtime, cni_node, cni_netns, cni_assert_clean, tmp_path):
    """/run/krafty-private-test does not exist: /run itself is overlaid, and /run/netns (where the
    pods' namespaces are, those made after the holder too) is bound back on top."""
    assert not Path("/run/krafty-private-test").exists()
    pod = cni_netns()
    conf = {
        "cniVersion": "1.0.0",
        "name": "over-run",
        "type": "ptp",
        "ipam": {"type": "host-local", "subnet": "10.250.6.0/24", "dataDir": str(tmp_path / "ipam")},
    }
    attachment = cni_runtime.add(conf, pod)  # ptp opens CNI_NETNS=/run/netns/<pod> inside the mounts
    assert attachment.result["ips"][0]["address"] in pod.addresses("eth0")
    inside = ["nsenter", *cni_runtime.mounts.nsenter_args()]  # as the plugins enter it (in a chroot too)
    subprocess.run([*inside, "sh", "-ec", "mkdir -p /run/krafty-private-test/x; touch /run/krafty-private-test/x/left"])
    with pytest.raises(AssertionError, match=r"private mount: /run/krafty-private-test/x/left\b"):
        cni_assert_clean()
    assert not Path("/run/krafty-private-test").exists()
    cni_runtime.delete(attachment)


def test_host_device_gives_back_less_than_it_took(cni_runtime, cni_node, cni_netns, cni_assert_clean):
    """A finding on Debian's host-device (1.1.1), as the plugin-author trial saw it: after DEL the
    device is back in the node, but down, with an alias, and without its address."""
    cni_node.add_parent("hostdev0")
    cni_node.run("ip", "addr", "add", "192.168.77.1/24", "dev", "hostdev0")
    cni_node.rebaseline()
    conf = {"cniVersion": "1.0.0", "name": "handed", "type": "host-device", "device": "hostdev0"}
    pod = cni_netns()
    attachment = cni_runtime.add(conf, pod)
    assert "hostdev0" not in cni_node.links()
    cni_runtime.delete(attachment)
    with pytest.raises(AssertionError) as failed:
        cni_assert_clean(cni_node, pod)
    for line in (
        "devices changed: hostdev0 state: up -> down",
        "devices changed: hostdev0 alias:  -> hostdev0",
        "addresses gone: 192.168.77.1/24 dev hostdev0",
    ):
        assert f"{cni_node.name}: {line}" in str(failed.value), str(failed.value)


def test_a_snapshot_runs_one_process_and_netfilter_tools_only_where_there_are_tables(cni_netns, monkeypatch):
    from krafty.testing import Netns

    ns = cni_netns("node")
    ran: list[tuple[str, ...]] = []
    real_run = Netns.run
    monkeypatch.setattr(Netns, "run", lambda self, *argv, **kw: ran.append(argv) or real_run(self, *argv, **kw))
    ns.state()
    assert [argv[0] for argv in ran] == ["tc"], "a fresh namespace: tc alone"
    real_run(ns, "iptables", "-A", "FORWARD", "-j", "DROP")
    ran.clear()
    state = ns.state()
    assert "iptables filter -A FORWARD -j DROP" in state["netfilter"]
    assert state["tc"] == ["lo: qdisc noqueue 0: root"], "tc reads its batch in the same process"
    assert len(ran) == 1 and ran[0][:2] == ("sh", "-c")
    assert "iptables-save" in ran[0][2] and "nft list ruleset" in ran[0][2] and "ip6tables-save" not in ran[0][2]


def test_private_mounts_list_files_written_and_removed_and_end_with_stop(tmp_path):
    from krafty.testing.mounts import PrivateMounts

    host = tmp_path / "host"
    host.mkdir()
    (host / "kept").write_text("")
    (host / "gone").write_text("")
    mounts = PrivateMounts([str(host)], tmp_path / "not" / "yet" / "staging")
    try:
        script = (
            "rm gone && echo 1 > new && mkdir -p d/e && touch d/e/f lock last_reserved_ip.0 net.lock"
            " && echo held > full.lock"
            " && ln -s /dev/null link && ln -s / dirlink"
        )
        subprocess.run(["nsenter", *mounts.nsenter_args(), "sh", "-ec", f"cd {host} && {script}"], check=True)
        assert sorted(p.name for p in host.iterdir()) == ["gone", "kept"], "written through to the host"
        assert mounts.leftovers() == [
            f"{host}/{name}" for name in ("d/e/f", "dirlink", "full.lock", "gone (removed)", "link", "new")
        ]
    finally:
        namespace = mounts.namespace
        mounts.stop()
    assert not Path(namespace).exists(), "the holder outlived stop()"


def test_private_mounts_that_cannot_be_made_say_why(tmp_path):
    from krafty.testing.mounts import PrivateMounts

    odd = tmp_path / "a,b"  # a comma ends overlayfs's lowerdir option
    odd.mkdir()
    with pytest.raises(
        RuntimeError, match=re.escape(f"private mounts for [{str(odd)!r}]: mount overlay krafty-private on {odd} (")
    ):
        PrivateMounts([str(odd)], tmp_path)
