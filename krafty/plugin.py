"""The verbs: ADD, DEL, CHECK, GC and STATUS, composed from config, IPAM and dataplane.

Each verb reads top to bottom like the spec's paragraph for it. In ADD, every step that
changes the node registers its undo right after it succeeds; the undo stack is dropped
only once the result is complete, so any failure leaves the node as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from ipaddress import IPv4Interface, IPv4Network
from typing import Any

from krafty import ipam, naming
from krafty.config import NetConf
from krafty.dataplane import (
    IFALIAS_MAX,
    AddressInUse,
    DataplaneError,
    DeviceConflict,
    Netns,
    NetnsUnusable,
    Owner,
    teardown_order,
)
from krafty.lock import device_lock, network_lock
from krafty.log import log
from krafty.types import (
    ADDRESS_IN_USE,
    CHECK_FAILED,
    DEVICE_CONFLICT,
    INVALID_CONFIG,
    INVALID_ENVIRONMENT,
    KERNEL_REFUSED,
    CniError,
    Interface,
    Invocation,
    IPConfig,
    Result,
    Route,
)

DEFAULT_ROUTE = IPv4Network("0.0.0.0/0")


@contextmanager
def _as_cni_errors() -> Iterator[None]:
    """Give kernel-side failures the CNI code a runtime can act on."""
    try:
        yield
    except NetnsUnusable as err:
        raise CniError(INVALID_ENVIRONMENT, f"CNI_NETNS: {err}") from None
    except DeviceConflict as err:
        raise CniError(DEVICE_CONFLICT, str(err)) from None
    except AddressInUse as err:
        raise CniError(ADDRESS_IN_USE, str(err)) from None
    except DataplaneError as err:
        raise CniError(KERNEL_REFUSED, str(err)) from None


def _best_effort(action: Callable[..., Any], *args: Any) -> None:
    """Rollback and cleanup steps must all run even when one of them fails."""
    try:
        action(*args)
    except Exception as err:  # noqa: BLE001 - logged, and the original failure is what the runtime sees
        log.warning("cleanup step %s failed: %s", getattr(action, "__name__", action), err)


class Devices:
    """The candidate names of one attachment's devices: seed names first, then derived ones.

    ADD picks per device (naming, Netns._pick); DEL and CHECK look at every candidate and
    trust only a device whose alias names this attachment.
    """

    def __init__(self, conf: NetConf, invocation: Invocation) -> None:
        seed, derived = naming.candidates(invocation.container_id, conf.name, invocation.ifname)
        self.vrfs = (seed.vrf, derived.vrf)
        self.bridges = ((seed.bridge, seed.bridge_mac), (derived.bridge, derived.bridge_mac))
        self.host_veths = (seed.host_veth, derived.host_veth)

    @property
    def node_side(self) -> tuple[str, ...]:
        """Every candidate name, in the order DEL removes them (veths, bridges, VRFs)."""
        return (*self.host_veths, *(name for name, _ in self.bridges), *self.vrfs)


def _delete_locked(node: Netns, name: str, owner: Owner) -> None:
    """Roll back a device under the device lock, as DEL deletes (see lock.py)."""
    with device_lock():
        node.delete(name, owner)


def _owner(conf: NetConf, invocation: Invocation) -> Owner:
    return Owner(conf.name, invocation.ifname, invocation.container_id)


def _recordable(owner: Owner) -> None:
    """ADD and CHECK refuse a container ID whose owner record cannot be written whole."""
    if not owner.recordable:
        raise CniError(
            INVALID_ENVIRONMENT,
            f"CNI_CONTAINERID is {len(owner.container_id)} characters: the owner record "
            f"'krafty <network> <ifname> <containerID>' would be {len(owner.alias.encode())} bytes, "
            f"over the kernel's {IFALIAS_MAX}-byte interface alias",
        )


def _pod_address(conf: NetConf, allocated: Result | None) -> IPv4Interface:
    """The pod's address with the subnet's prefix, from IPAM (checked by ipam.add) or from podIP."""
    ip = conf.pod_ip if allocated is None else allocated.ips[0].address.ip
    return IPv4Interface(f"{ip}/{conf.subnet.prefixlen}")


def _pod_routes(conf: NetConf, allocated: Result | None) -> tuple[Route, ...]:
    """The default route via the gateway, plus the IPAM plugin's routes (gateway filled in)."""
    routes = {DEFAULT_ROUTE: Route(DEFAULT_ROUTE, conf.gateway)}
    for route in allocated.routes if allocated else ():
        routes.setdefault(route.dst, Route(route.dst, route.gw or conf.gateway))
    return tuple(routes.values())


def add(invocation: Invocation, conf: NetConf) -> Result:
    owner = _owner(conf, invocation)
    _recordable(owner)
    devices = Devices(conf, invocation)
    with _as_cni_errors(), Netns(invocation.netns) as pod, Netns() as node, ExitStack() as undo:
        if pod.get(invocation.ifname) is not None:
            raise CniError(DEVICE_CONFLICT, f"interface {invocation.ifname} already exists in {invocation.netns}")
        plugin = ipam.find(conf, invocation) if conf.ipam_type else None

        gateway = IPv4Interface(conf.gateway_interface)
        with device_lock():
            vrf, created = node.ensure_vrf(devices.vrfs, conf.vrf_table, owner)
            if created:
                undo.callback(_best_effort, _delete_locked, node, vrf.name, owner)
            bridge, created = node.ensure_bridge(devices.bridges, vrf, gateway, conf.mtu, owner)
            if created:
                undo.callback(_best_effort, _delete_locked, node, bridge.name, owner)

        allocated = None
        if plugin is not None:
            undo.callback(_best_effort, ipam.delete, plugin, conf, invocation)
            allocated = ipam.add(plugin, conf, invocation)
        address = _pod_address(conf, allocated)
        routes = _pod_routes(conf, allocated)

        if conf.pod_ip is None:
            node.route_pod(bridge.name, address.ip, conf.vrf_table, exclusive=False)
        else:
            with network_lock(conf.name):
                node.route_pod(bridge.name, address.ip, conf.vrf_table, exclusive=True)
        undo.callback(_best_effort, node.unroute_pod, bridge.name, address.ip, conf.vrf_table)
        with device_lock():
            host = node.add_veth(devices.host_veths, bridge, pod, invocation.ifname, conf.mtu, owner)
        undo.callback(_best_effort, _delete_locked, node, host.name, owner)
        pod_link = pod.configure_pod(
            invocation.ifname, address, [(str(r.dst), str(r.gw) if r.gw else None) for r in routes], owner
        )
        bridge = node.get(bridge.name)
        undo.pop_all()

    dns = (allocated.dns if allocated else None) or conf.raw.get("dns")
    log.info(
        "ADD %s: %s on %s in %s, VRF %s table %d",
        invocation.container_id,
        address,
        invocation.ifname,
        invocation.netns,
        vrf.name,
        conf.vrf_table,
    )
    return Result(
        interfaces=(
            Interface(bridge.name, bridge.mac),
            Interface(host.name, host.mac),
            Interface(pod_link.name, pod_link.mac, invocation.netns),
        ),
        ips=(IPConfig(address, conf.gateway, interface=2),),
        routes=routes,
        dns=dns if isinstance(dns, dict) else {},
    )


def delete(invocation: Invocation, conf: NetConf) -> None:
    """Best-effort and repeatable: whatever is already gone is success; IPAM DEL always runs."""
    owner = _owner(conf, invocation)
    devices = Devices(conf, invocation)
    failures: list[CniError] = []

    def attempt(step: Callable[[], Any]) -> None:
        try:
            with _as_cni_errors():
                step()
        except CniError as err:
            failures.append(err)

    def pod_side() -> None:
        try:
            with Netns(invocation.netns) as pod:
                pod.delete(invocation.ifname, owner)
        except NetnsUnusable:
            log.info("DEL %s: netns %s is gone", invocation.container_id, invocation.netns)

    def node_side() -> None:
        with Netns() as node, device_lock():
            for name in devices.node_side:
                node.delete(name, owner)

    if not owner.recordable:
        log.info("DEL %s: no ADD can have made devices for an ID this long", invocation.container_id)
    else:
        if invocation.netns:
            attempt(pod_side)
        attempt(node_side)
    if conf.ipam_type:
        attempt(lambda: ipam.delete(ipam.find(conf, invocation), conf, invocation))
    if failures:
        raise failures[0]
    log.info("DEL %s: done", invocation.container_id)


def _drift(condition: bool, message: str) -> None:
    if condition:
        raise CniError(CHECK_FAILED, message)


def check(invocation: Invocation, conf: NetConf) -> None:
    """Compare prevResult with the node and the pod; the message names what drifted."""
    prev = conf.prev_result
    if prev is None:
        raise CniError(INVALID_CONFIG, "prevResult: required for CHECK")
    pod_entries = [i for i, iface in enumerate(prev.interfaces) if iface.name == invocation.ifname and iface.sandbox]
    _drift(not pod_entries, f"prevResult has no interface {invocation.ifname} in a sandbox")
    expected_mac = prev.interfaces[pod_entries[0]].mac
    addresses = [ip.address for ip in prev.ips if ip.interface in (None, pod_entries[0])]
    _drift(not addresses, f"prevResult has no address for {invocation.ifname}")
    owner = _owner(conf, invocation)
    _recordable(owner)
    devices = Devices(conf, invocation)
    gateway = IPv4Interface(conf.gateway_interface)
    with _as_cni_errors(), Netns() as node:
        vrf = node.find(devices.vrfs, owner)
        _drift(vrf is None, f"VRF {' or '.join(devices.vrfs)} of this attachment is missing")
        _drift(
            vrf.kind != "vrf" or vrf.vrf_table != conf.vrf_table,
            f"VRF {vrf.name} has table {vrf.vrf_table}, want {conf.vrf_table}",
        )
        bridge = node.find([name for name, _ in devices.bridges], owner)
        _drift(bridge is None, f"bridge {' or '.join(n for n, _ in devices.bridges)} of this attachment is missing")
        _drift(bridge.master != vrf.index, f"bridge {bridge.name} is not enslaved to VRF {vrf.name}")
        _drift(gateway not in node.addresses(bridge), f"bridge {bridge.name} does not hold gateway {gateway}")
        veth = node.find(devices.host_veths, owner)
        _drift(veth is None, f"host veth {' or '.join(devices.host_veths)} of this attachment is missing")
        _drift(veth.master != bridge.index, f"host veth {veth.name} is not on bridge {bridge.name}")
    with _as_cni_errors(), Netns(invocation.netns) as pod:
        link = pod.get(invocation.ifname)
        _drift(link is None, f"pod interface {invocation.ifname} is missing in {invocation.netns}")
        _drift(not link.up, f"pod interface {invocation.ifname} is down")
        _drift(
            bool(expected_mac) and link.mac != expected_mac.lower(),
            f"pod interface {invocation.ifname} has MAC {link.mac}, prevResult says {expected_mac}",
        )
        held = pod.addresses(link)
        for address in addresses:
            _drift(address not in held, f"pod interface {invocation.ifname} lacks address {address}")
        via = pod.default_gateway(link)
        _drift(via != str(conf.gateway), f"pod default route is via {via}, want {conf.gateway}")
    if conf.ipam_type:
        ipam.check(ipam.find(conf, invocation), conf, invocation)


def gc(invocation: Invocation, conf: NetConf) -> None:
    """Remove this network's devices whose attachment the runtime no longer knows."""
    if conf.valid_attachments is None:
        raise CniError(INVALID_CONFIG, "cni.dev/valid-attachments: required for GC")
    with _as_cni_errors(), Netns() as node:
        stale = [
            link
            for link in node.links()
            if link.krafty_made
            and link.owner is not None
            and link.owner.network == conf.name
            and (link.owner.container_id, link.owner.ifname) not in conf.valid_attachments
        ]
        for link in teardown_order(stale):
            if node.delete_link(link):
                log.info("GC: deleted %s %s of container %s", link.kind, link.name, link.owner.container_id)
    if conf.ipam_type:
        plugin = ipam.find(conf, invocation)
        ipam.gc(plugin, conf, invocation)


VERBS: dict[str, Callable[[Invocation, NetConf], Result | None]] = {
    "ADD": add,
    "DEL": delete,
    "CHECK": check,
    "GC": gc,
}
