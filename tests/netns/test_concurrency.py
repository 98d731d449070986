"""Many attachments at once on one network: all succeed, addresses stay distinct, nothing leaks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.netns.conftest import assert_clean, container_id

PODS = 20


def test_twenty_adds_then_twenty_dels_at_once(runtime, node, namespaces):
    pods = {container_id(): namespaces() for _ in range(PODS)}
    with ThreadPoolExecutor(PODS) as pool:
        added = dict(zip(pods, pool.map(lambda cid: runtime.add(cid, pods[cid]), pods), strict=True))
    failed = {cid[:12]: call.out for cid, call in added.items() if not call.ok}
    assert not failed, f"concurrent ADDs failed: {failed}"
    addresses = [call.out["ips"][0]["address"] for call in added.values()]
    assert len(set(addresses)) == PODS, f"duplicate addresses: {sorted(addresses)}"
    assert len(runtime.allocations()) == PODS

    with ThreadPoolExecutor(PODS) as pool:
        deleted = list(pool.map(lambda cid: runtime.delete(cid, pods[cid].path), pods))
    assert all(call.ok for call in deleted), [call.out for call in deleted if not call.ok]
    assert_clean(node, runtime)


def test_interleaved_adds_and_dels_of_different_containers(runtime, node, namespaces):
    first = {container_id(): namespaces() for _ in range(5)}
    second = {container_id(): namespaces() for _ in range(5)}
    for cid, pod in first.items():
        assert runtime.add(cid, pod).ok
    jobs = [("DEL", cid, pod) for cid, pod in first.items()] + [("ADD", cid, pod) for cid, pod in second.items()]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(lambda job: runtime.call(job[0], job[1], job[2].path), jobs))
    assert all(call.ok for call in results), [call.out for call in results if not call.ok]
    assert len(runtime.allocations()) == len(second)
    for cid, pod in second.items():
        assert runtime.delete(cid, pod.path).ok
    assert_clean(node, runtime)


def test_a_static_pod_ip_goes_to_exactly_one_of_two_racing_pods(runtime, node, namespaces):
    conf = runtime.config(ipam=None, podIP="172.16.10.50")
    pods = {container_id(): namespaces() for _ in range(2)}
    with ThreadPoolExecutor(2) as pool:
        calls = dict(zip(pods, pool.map(lambda cid: runtime.add(cid, pods[cid], conf), pods), strict=True))
    winners = [cid for cid, call in calls.items() if call.ok]
    assert len(winners) == 1, f"{len(winners)} pods got 172.16.10.50"
    loser = next(call for call in calls.values() if not call.ok)
    assert loser.out["code"] == 104
    assert "172.16.10.50" in loser.out["msg"]
    for cid, pod in pods.items():
        assert runtime.delete(cid, pod.path, conf).ok
    assert_clean(node, runtime)


def test_a_static_pod_ip_in_use_is_refused(runtime, node, namespaces):
    conf = runtime.config(ipam=None, podIP="172.16.10.51")
    first, second = container_id(), container_id()
    pod_a, pod_b = namespaces(), namespaces()
    assert runtime.add(first, pod_a, conf).ok
    refused = runtime.add(second, pod_b, conf)
    assert refused.out["code"] == 104
    assert runtime.delete(second, pod_b.path, conf).ok
    assert runtime.delete(first, pod_a.path, conf).ok
    assert runtime.add(second, pod_b, conf).ok, "the address must be free again after DEL"
    assert runtime.delete(second, pod_b.path, conf).ok
    assert_clean(node, runtime)
