"""Many attachments at once on one network: all succeed, addresses stay distinct, nothing leaks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from krafty.testing import CniCallError

pytestmark = pytest.mark.cni_kernel("vrf")

PODS = 20


def attempt(call, *args, **kwargs):
    """The attachment, or the CniCallError: a thread pool must see every outcome."""
    try:
        return call(*args, **kwargs)
    except CniCallError as err:
        return err


def test_twenty_adds_then_twenty_dels_at_once(cni_runtime, cni_netns, net, clean):
    pods = [cni_netns() for _ in range(PODS)]
    with ThreadPoolExecutor(PODS) as pool:
        added = list(pool.map(lambda pod: attempt(cni_runtime.add, net.config(), pod, ifname="net1"), pods))
    failed = [str(a) for a in added if isinstance(a, CniCallError)]
    assert not failed, f"concurrent ADDs failed: {failed}"
    addresses = [a.result["ips"][0]["address"] for a in added]
    assert len(set(addresses)) == PODS, f"duplicate addresses: {sorted(addresses)}"
    assert len(net.allocations()) == PODS

    with ThreadPoolExecutor(PODS) as pool:
        deleted = list(pool.map(lambda a: attempt(cni_runtime.delete, a), added))
    assert not [str(d) for d in deleted if d is not None]
    clean(*pods)


def test_interleaved_adds_and_dels_of_different_containers(cni_runtime, cni_netns, net, clean):
    first = [cni_runtime.add(net.config(), cni_netns(), ifname="net1") for _ in range(5)]
    second = [cni_netns() for _ in range(5)]
    jobs = [lambda a=a: cni_runtime.delete(a) for a in first]
    jobs += [lambda p=p: cni_runtime.add(net.config(), p, ifname="net1") for p in second]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(attempt, jobs))
    assert not [str(r) for r in results if isinstance(r, CniCallError)]
    assert len(net.allocations()) == len(second)
    for attachment in results[len(first) :]:
        cni_runtime.delete(attachment)
    clean(*second)


def test_a_static_pod_ip_goes_to_exactly_one_of_two_racing_pods(cni_runtime, cni_netns, net, clean):
    conf = net.config(ipam=None, podIP="172.16.10.50")
    pods = [cni_netns() for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda pod: attempt(cni_runtime.add, conf, pod, ifname="net1"), pods))
    winners = [o for o in outcomes if not isinstance(o, CniCallError)]
    assert len(winners) == 1, f"{len(winners)} pods got 172.16.10.50"
    [loser] = [o for o in outcomes if isinstance(o, CniCallError)]
    assert loser.code == 104
    assert "172.16.10.50" in loser.msg
    cni_runtime.delete(loser.attachment)
    cni_runtime.delete(winners[0])
    clean(*pods)


def test_a_static_pod_ip_in_use_is_refused(cni_runtime, cni_netns, net, clean):
    conf = net.config(ipam=None, podIP="172.16.10.51")
    pod_a, pod_b = cni_netns(), cni_netns()
    first = cni_runtime.add(conf, pod_a, ifname="net1")
    with pytest.raises(CniCallError) as refused:
        cni_runtime.add(conf, pod_b, ifname="net1")
    assert refused.value.code == 104
    cni_runtime.delete(refused.value.attachment)
    cni_runtime.delete(first)
    second = cni_runtime.add(conf, pod_b, ifname="net1")  # the address is free again after DEL
    cni_runtime.delete(second)
    clean(pod_a, pod_b)
