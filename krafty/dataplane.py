"""The kernel side: VRF, bridge and veth on the node, the interface in the pod.

The only module that imports pyroute2. It knows nothing of JSON or CNI; it raises
DataplaneError (and its subclasses) naming the device and the value that was wrong.

Ownership: every device krafty creates is put in device group KRAFTY_GROUP in the same
netlink message that creates it, and then gets an alias naming its owner. A device with
krafty's group but no alias is one whose ADD was interrupted between the two steps. Each
device has candidate names (naming.candidates); several attachments can share a seed
name, so an unnamed device may be any of theirs: the attachment that picks it first under
lock.device_lock reuses it if it fits (a VRF with its table, a bridge in its VRF), and
DEL removes it. Devices outside the group are never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib.util
import os
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Interface

from krafty.record import Record


def _lean_pyroute2() -> None:
    """Let pyroute2's submodules load without its package __init__.

    That __init__ imports every API pyroute2 has (NDB with sqlite3, IPDB, conntrack, ...):
    about 45 ms of each plugin call, which needs only its netlink messages (python -X importtime). The
    package object gets the real __path__; asking it for anything but a submodule runs the
    real __init__, so code wanting the whole of pyroute2 still gets it.
    """
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    package = importlib.util.module_from_spec(spec)

    def complete(name: str):
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # `from pyroute2 import config`
        del package.__getattr__
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete
    sys.modules["pyroute2"] = package


_lean_pyroute2()
from pyroute2.netlink import (  # noqa: E402
    NLM_F_ACK,
    NLM_F_APPEND,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_MULTI,
    NLM_F_REPLACE,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg  # noqa: E402
from pyroute2.netlink.rtnl.rtmsg import rtmsg  # noqa: E402

KRAFTY_GROUP = 0x6B7266  # "krf"
_ALIAS_PREFIX = "krafty "
IFALIAS_MAX = 255  # bytes: the kernel's IFALIASZ less its NUL
_CLONE_NEWNET = 0x40000000
_IFA_F_NOPREFIXROUTE = 0x200
_RT_SCOPE_LINK = 253
_RTPROT_STATIC = 4
_IFF_UP = 0x1
SECONDARY_ROUTE_METRIC = 1000


class DataplaneError(Exception):
    """The kernel refused something, or the node is not as expected."""


class DeviceConflict(DataplaneError):
    """A device krafty needs exists and is not this attachment's."""


class AddressInUse(DataplaneError):
    """Another pod on the network already has this address."""


class NetnsUnusable(DataplaneError):
    """CNI_NETNS does not name a network namespace."""


class Owner(Record):
    """Who a device belongs to, recorded in its alias: network, pod interface, container."""

    __slots__ = ("container_id", "ifname", "network")

    def __init__(self, network: str, ifname: str, container_id: str) -> None:
        self.network = network
        self.ifname = ifname
        self.container_id = container_id

    @property
    def alias(self) -> str:
        return f"{_ALIAS_PREFIX}{self.network} {self.ifname} {self.container_id}"

    @property
    def recordable(self) -> bool:
        """Whether the alias fits the kernel's limit. The container ID is kept whole, never cut
        or hashed, so that ownership stays exact: an ID too long for it is refused instead."""
        return len(self.alias.encode()) <= IFALIAS_MAX

    @classmethod
    def from_alias(cls, alias: str | None) -> Owner | None:
        if not alias or not alias.startswith(_ALIAS_PREFIX):
            return None
        parts = alias[len(_ALIAS_PREFIX) :].split(" ")
        return cls(*parts) if len(parts) == 3 else None


class Link(Record):
    __slots__ = (
        "group",
        "index",
        "kind",
        "mac",
        "master",
        "name",
        "owner",
        "peer_index",
        "peer_nsid",
        "up",
        "vrf_table",
    )

    def __init__(
        self,
        name: str,
        index: int,
        kind: str,
        mac: str,
        master: int,
        up: bool,
        group: int,
        owner: Owner | None,
        vrf_table: int | None,
        peer_index: int = 0,  # a veth's peer, in the namespace peer_nsid names (-1: this one)
        peer_nsid: int = -1,
    ) -> None:
        self.name = name
        self.index = index
        self.kind = kind
        self.mac = mac
        self.master = master
        self.up = up
        self.group = group
        self.owner = owner
        self.vrf_table = vrf_table
        self.peer_index = peer_index
        self.peer_nsid = peer_nsid

    @property
    def krafty_made(self) -> bool:
        return self.group == KRAFTY_GROUP


def _link(msg) -> Link:
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else ""
    data = info.get("IFLA_INFO_DATA") if info else None
    table = data.get("IFLA_VRF_TABLE") if kind == "vrf" and data else None
    return Link(
        name=msg.get("IFLA_IFNAME"),
        index=msg["index"],
        kind=kind or "",
        mac=msg.get("IFLA_ADDRESS") or "",
        master=msg.get("IFLA_MASTER") or 0,
        up=bool(msg["flags"] & _IFF_UP),
        group=msg.get("IFLA_GROUP") or 0,
        owner=Owner.from_alias(msg.get("IFLA_IFALIAS")),
        vrf_table=table,
        peer_index=msg.get("IFLA_LINK") or 0,
        peer_nsid=msg.get("IFLA_LINK_NETNSID", -1),
    )


_TEARDOWN_ORDER = {"veth": 0, "bridge": 1, "vrf": 2}


def teardown_order(links: list[Link]) -> list[Link]:
    """Veths before their bridge, bridges before their VRF, as DEL deletes them."""
    return sorted(links, key=lambda link: _TEARDOWN_ORDER.get(link.kind, 0))


def _kernel_error(action: str, err: NetlinkError) -> DataplaneError:
    return DataplaneError(f"{action}: {os.strerror(err.code)} (errno {err.code})")


_libc = ctypes.CDLL(None, use_errno=True)

# rtnetlink message types (linux/rtnetlink.h)
_RTM_NEWLINK, _RTM_DELLINK, _RTM_GETLINK = 16, 17, 18
_RTM_NEWADDR, _RTM_GETADDR = 20, 22
_RTM_NEWROUTE, _RTM_DELROUTE, _RTM_GETROUTE = 24, 25, 26
_RTM_GETNSID = 90
_RT_TABLE_MAIN, _RT_SCOPE_NOWHERE, _RTN_UNICAST = 254, 255, 1
_NLMSG_HEADER = struct.Struct("=LHHLL")  # length, type, flags, sequence number, port id
_NEW = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL


class _Rtnl:
    """One rtnetlink socket, spoken to with pyroute2's message classes alone.

    pyroute2's IPRoute brings asyncio and ~300 modules (about 100 ms of every plugin call,
    seconds under emulation); krafty sends a handful of requests, each answered by an ACK, an
    error or a dump, which this reads back itself.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, msg, kind: int, flags: int = NLM_F_REQUEST | NLM_F_ACK) -> list:
        """Send msg as message type `kind`; the answers (of msg's class) until the ACK or the end
        of the dump. An error answer raises NetlinkError with its errno."""
        self.seq += 1
        msg["header"]["type"], msg["header"]["flags"], msg["header"]["sequence_number"] = kind, flags, self.seq
        msg.encode()
        self.sock.send(msg.data)
        answers = []
        while True:
            data = self.sock.recv(1 << 20)
            offset = 0
            while offset < len(data):
                length, answer_kind, answer_flags, seq, _ = _NLMSG_HEADER.unpack_from(data, offset)
                chunk, offset = data[offset : offset + length], offset + (length + 3 & ~3)
                if seq != self.seq:
                    continue  # an answer to a request given up on (none is, today)
                if answer_kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", chunk, _NLMSG_HEADER.size)[0]
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return answers
                if answer_kind == NLMSG_DONE:
                    return answers
                answer = type(msg)(chunk)
                answer.decode()
                answers.append(answer)
                if not answer_flags & NLM_F_MULTI and not flags & NLM_F_ACK:
                    return answers

    def dump(self, msg, kind: int) -> list:
        return self.request(msg, kind, NLM_F_REQUEST | NLM_F_DUMP)


def _ifinfmsg(index: int = 0, up: bool = False, **attrs) -> ifinfmsg:
    msg = ifinfmsg()
    flags = _IFF_UP if up else 0
    msg["index"], msg["flags"], msg["change"] = index, flags, flags
    msg["attrs"] = [[name, value] for name, value in attrs.items() if value is not None]
    return msg


def _linkinfo(kind: str, **data) -> dict:
    info = [["IFLA_INFO_KIND", kind]]
    if data:
        info.append(["IFLA_INFO_DATA", {"attrs": [[name, value] for name, value in data.items()]}])
    return {"attrs": info}


def _ifaddrmsg(index: int, address: IPv4Interface, flags: int = 0) -> ifaddrmsg:
    msg = ifaddrmsg()
    msg["family"], msg["prefixlen"], msg["index"] = socket.AF_INET, address.network.prefixlen, index
    msg["attrs"] = [["IFA_ADDRESS", str(address.ip)], ["IFA_LOCAL", str(address.ip)]]
    if flags:
        msg["attrs"].append(["IFA_FLAGS", flags])
    return msg


def _rtmsg(table: int, dst: str | None = None, dst_len: int = 0, **fields) -> rtmsg:
    """An IPv4 route message; tables above 255 go in RTA_TABLE, as the kernel wants."""
    msg = rtmsg()
    msg["family"], msg["dst_len"], msg["table"] = socket.AF_INET, dst_len, table if table < 256 else _RT_TABLE_MAIN
    for field, value in fields.items():
        if not field.startswith("RTA_"):
            msg[field] = value
    attrs = [["RTA_DST", dst]] if dst_len else []
    attrs += [[name, value] for name, value in fields.items() if name.startswith("RTA_") and value is not None]
    msg["attrs"] = [*attrs, ["RTA_TABLE", table]]
    return msg


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class Netns:
    """A netlink socket in one network namespace (the node's, or a pod's by path)."""

    def __init__(self, path: str | None = None) -> None:
        """Open the socket inside `path` without ever creating it.

        pyroute2's own netns helpers create a missing namespace and fork a helper process;
        entering with setns(2) just long enough to open the socket avoids both.
        """
        self.path = path
        if path is None:
            self.ipr = _Rtnl()
            return
        try:
            target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise NetnsUnusable(f"network namespace {path}: {err.strerror}") from None
        home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                _setns(target)
            except OSError as err:
                raise NetnsUnusable(f"{path} is not a network namespace: {err.strerror}") from None
            try:
                self.ipr = _Rtnl()
            finally:
                _setns(home)
            self.fd = target
        except BaseException:
            os.close(target)
            raise
        finally:
            os.close(home)

    def close(self) -> None:
        self.ipr.close()
        if self.path is not None:
            os.close(self.fd)

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, name: str) -> Link | None:
        return self._lookup(name, ifname=name)

    def get_index(self, index: int) -> Link | None:
        return self._lookup(f"ifindex {index}", index=index)

    def _lookup(self, what: str, **key: str | int) -> Link | None:
        try:
            msg = _ifinfmsg(key.get("index", 0), IFLA_IFNAME=key.get("ifname"))
            return _link(self.ipr.request(msg, _RTM_GETLINK)[0])
        except NetlinkError as err:
            if err.code == errno.ENODEV:
                return None
            raise _kernel_error(f"look up {what}", err) from None

    def links(self) -> list[Link]:
        return [_link(msg) for msg in self.ipr.dump(_ifinfmsg(), _RTM_GETLINK)]

    def nsid_of(self, path: str) -> int | None:
        """The id this namespace uses for the namespace at `path` (None: none assigned, or the
        namespace went away since it was listed: pods come and go while `inspect` runs)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        msg = nsidmsg()
        msg["attrs"] = [["NETNSA_FD", fd]]
        try:
            answers = self.ipr.request(msg, _RTM_GETNSID)
        except NetlinkError:
            return None
        finally:
            os.close(fd)
        nsid = answers[0].get_attr("NETNSA_NSID") if answers else None
        return None if nsid is None or nsid < 0 else nsid

    def _create(self, name: str, owner: Owner, kind: str, linkinfo: dict, **attrs) -> Link:
        """Create a device in krafty's group, up, then record its owner (or take it away again)."""
        msg = _ifinfmsg(up=True, IFLA_IFNAME=name, IFLA_GROUP=KRAFTY_GROUP, IFLA_LINKINFO=linkinfo, **attrs)
        try:
            self.ipr.request(msg, _RTM_NEWLINK, _NEW)
        except NetlinkError as err:
            if err.code == errno.EEXIST:
                raise DeviceConflict(f"{name} already exists") from None
            raise _kernel_error(f"create {kind} {name}", err) from None
        link = self.get(name)
        try:
            self._set_alias(link, owner)
        except NetlinkError as err:
            self.delete_link(link)
            raise _kernel_error(f"record the owner of {name}", err) from None
        return link

    def _pick(
        self, names: Sequence[str], owner: Owner, what: str, fits: Callable[[Link], bool]
    ) -> tuple[str, Link | None]:
        """Choose one device's name among its candidates; returns it with the device to reuse.

        This attachment's own device, under any candidate name, comes first. Otherwise the
        first candidate that is free, or holds an unnamed device in krafty's group that fits,
        is taken; a candidate holding another attachment's device (or an unnamed one that does
        not fit, hence not this attachment's) is skipped. A device outside krafty's group in
        the way is refused. Callers hold lock.device_lock, so an unnamed device is a killed
        ADD's leftover, never one a live ADD is about to name.
        """
        found = [(name, self.get(name)) for name in names]
        for name, link in found:
            if link is not None and link.owner == owner:
                return name, link
        taken = []
        for name, link in found:
            if link is None:
                return name, None
            if not link.krafty_made:
                raise DeviceConflict(f"{what} {name} exists and was not created by krafty")
            if link.owner is None:
                if fits(link):
                    return name, link
                taken.append(f"{name} is what an interrupted ADD of another attachment left")
            else:
                taken.append(
                    f"{name} belongs to container {link.owner.container_id} "
                    f"(network {link.owner.network}, interface {link.owner.ifname})"
                )
        raise DeviceConflict(f"no free name for the {what} of {owner.container_id}: {'; '.join(taken)}")

    def _record(self, link: Link, owner: Owner) -> None:
        """Finish what an interrupted ADD began: name the owner of a device it reuses.

        Called only once the device has passed every check, so that an attachment that is
        refused never names itself the owner of a device that is not its own.
        """
        if link.owner is None:
            try:
                self._set_alias(link, owner)
            except NetlinkError as err:
                raise _kernel_error(f"record the owner of {link.name}", err) from None

    @staticmethod
    def owns(link: Link, owner: Owner) -> bool:
        return link.owner == owner or (link.krafty_made and link.owner is None)

    def find(self, names: Sequence[str], owner: Owner) -> Link | None:
        """The device under one of the candidate names whose alias names this attachment."""
        for name in names:
            link = self.get(name)
            if link is not None and link.owner == owner:
                return link
        return None

    def ensure_vrf(self, names: Sequence[str], table: int, owner: Owner) -> tuple[Link, bool]:
        """Create the VRF or accept this attachment's own; True when created now."""
        name, link = self._pick(names, owner, "VRF", lambda link: link.kind == "vrf" and link.vrf_table == table)
        if link is None:
            return self._create(name, owner, "vrf", _linkinfo("vrf", IFLA_VRF_TABLE=table)), True
        if link.kind != "vrf" or link.vrf_table != table:
            raise DeviceConflict(f"VRF {name} exists with routing table {link.vrf_table}, want {table}")
        self._record(link, owner)
        self._set_up(link)
        return link, False

    def ensure_bridge(
        self,
        choices: Sequence[tuple[str, str]],
        vrf: Link,
        gateway: IPv4Interface,
        mtu: int | None,
        owner: Owner,
    ) -> tuple[Link, bool]:
        """Create the bridge in the VRF holding the gateway, or accept this attachment's own.

        `choices` pairs each candidate name with the MAC a bridge of that name gets. The
        gateway goes on without its prefix route: all of a network's pods share one VRF
        table, and a per-pod host route (see route_pod) is what keeps their replies apart.
        """
        macs = dict(choices)
        name, link = self._pick(
            list(macs), owner, "bridge", lambda link: link.kind == "bridge" and link.master == vrf.index
        )
        created = link is None
        if created:
            attrs = {"IFLA_ADDRESS": macs[name], "IFLA_MASTER": vrf.index, "IFLA_MTU": mtu or None}
            link = self._create(name, owner, "bridge", _linkinfo("bridge"), **attrs)
        else:
            if link.kind != "bridge" or link.master != vrf.index:
                raise DeviceConflict(f"{name} exists but is not a bridge in VRF {vrf.name}")
            self._record(link, owner)
            self._set_up(link)
        try:
            self.ipr.request(_ifaddrmsg(link.index, gateway, _IFA_F_NOPREFIXROUTE), _RTM_NEWADDR, _NEW)
        except NetlinkError as err:
            if err.code != errno.EEXIST:
                raise _kernel_error(f"add {gateway} to bridge {name}", err) from None
        return link, created

    def add_veth(
        self, names: Sequence[str], bridge: Link, pod: Netns, ifname: str, mtu: int | None, owner: Owner
    ) -> Link:
        """Create the pair under the first free candidate name, the peer born in the pod under
        its final name. A veth is never reused: its peer would be the pod interface, which ADD
        has already found missing."""
        name, link = self._pick(names, owner, "host veth", lambda link: False)
        if link is not None:
            raise DeviceConflict(f"host veth {name} already exists")
        peer = [["IFLA_IFNAME", ifname], ["IFLA_NET_NS_FD", pod.fd], ["IFLA_GROUP", KRAFTY_GROUP]]
        peer += [["IFLA_MTU", mtu]] if mtu else []
        linkinfo = _linkinfo("veth", VETH_INFO_PEER={"attrs": peer})
        return self._create(name, owner, "veth", linkinfo, IFLA_MASTER=bridge.index, IFLA_MTU=mtu or None)

    def route_pod(self, bridge: str, address: IPv4Address, table: int, exclusive: bool) -> None:
        """Route the pod's address via its own bridge in the network's shared VRF table.

        With `exclusive` (a static podIP, which no IPAM plugin keeps unique) an address that
        another bridge already routes there is refused: another pod has it. The check reads
        the whole table, so it is skipped when IPAM guarantees uniqueness.
        """
        bridge_link = self.get(bridge)
        for route in self._routes(table) if exclusive else ():
            holder = route.get("RTA_OIF")
            if route["dst_len"] == 32 and route.get("RTA_DST") == str(address) and holder != bridge_link.index:
                raise AddressInUse(f"{address} is already routed to another pod (ifindex {holder}) in table {table}")
        route = _rtmsg(
            table,
            str(address),
            32,
            proto=_RTPROT_STATIC,
            scope=_RT_SCOPE_LINK,
            type=_RTN_UNICAST,
            RTA_OIF=bridge_link.index,
        )
        try:
            self.ipr.request(route, _RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE)
        except NetlinkError as err:
            raise _kernel_error(f"route {address} via {bridge} in table {table}", err) from None

    def unroute_pod(self, bridge: str, address: IPv4Address, table: int) -> None:
        bridge_link = self.get(bridge)
        if bridge_link is None:
            return
        route = _rtmsg(table, str(address), 32, scope=_RT_SCOPE_NOWHERE, RTA_OIF=bridge_link.index)  # any scope
        try:
            self.ipr.request(route, _RTM_DELROUTE)
        except NetlinkError as err:
            if err.code not in (errno.ESRCH, errno.ENODEV):
                raise _kernel_error(f"remove route {address} from table {table}", err) from None

    def configure_pod(
        self, ifname: str, address: IPv4Interface, routes: list[tuple[str, str | None]], owner: Owner
    ) -> Link:
        """Address, bring up and route the pod interface; returns it as the kernel reports it."""
        link = self.get(ifname)
        if link is None:
            raise DataplaneError(f"pod interface {ifname} vanished after creation")
        try:
            self.ipr.request(_ifinfmsg(link.index, up=True, IFLA_IFALIAS=owner.alias), _RTM_NEWLINK)
            self.ipr.request(_ifaddrmsg(link.index, address), _RTM_NEWADDR, _NEW)
        except NetlinkError as err:
            raise _kernel_error(f"address {address} on pod interface {ifname}", err) from None
        for dst, gateway in routes:
            self._add_pod_route(dst, gateway, link)
        return self.get(ifname)

    def _add_pod_route(self, dst: str, gateway: str | None, link: Link) -> None:
        """A route the pod already has (say the primary CNI's default) keeps precedence:
        krafty's goes in behind it, with a higher metric. It is appended there, so a third
        attachment of the pod with the same route (another krafty one) finds room too."""
        network, _, prefixlen = dst.partition("/")
        length = int(prefixlen or 32)
        spec = {"proto": _RTPROT_STATIC, "type": _RTN_UNICAST, "RTA_OIF": link.index, "RTA_GATEWAY": gateway}
        try:
            try:
                self.ipr.request(_rtmsg(_RT_TABLE_MAIN, network, length, **spec), _RTM_NEWROUTE, _NEW)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
                spec["RTA_PRIORITY"] = SECONDARY_ROUTE_METRIC
                append = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND
                self.ipr.request(_rtmsg(_RT_TABLE_MAIN, network, length, **spec), _RTM_NEWROUTE, append)
        except NetlinkError as err:
            raise _kernel_error(f"route {dst} via {gateway} in pod", err) from None

    def delete(self, name: str, owner: Owner) -> bool:
        """Delete the device if it is this attachment's; True when something was deleted."""
        link = self.get(name)
        if link is None or not self.owns(link, owner):
            return False
        return self.delete_link(link)

    def delete_link(self, link: Link) -> bool:
        try:
            self.ipr.request(_ifinfmsg(link.index), _RTM_DELLINK)
        except NetlinkError as err:
            if err.code == errno.ENODEV:
                return False
            raise _kernel_error(f"delete {link.kind} {link.name}", err) from None
        return True

    def _set_up(self, link: Link) -> None:
        if not link.up:
            try:
                self.ipr.request(_ifinfmsg(link.index, up=True), _RTM_NEWLINK)
            except NetlinkError as err:
                raise _kernel_error(f"bring {link.name} up", err) from None

    def addresses(self, link: Link) -> set[IPv4Interface]:
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET
        return {
            IPv4Interface(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
            for msg in self.ipr.dump(msg, _RTM_GETADDR)
            if msg["index"] == link.index
        }

    def default_gateway(self, link: Link) -> str | None:
        for msg in self._routes(_RT_TABLE_MAIN):
            if msg.get("RTA_OIF") == link.index and msg["dst_len"] == 0:
                return msg.get("RTA_GATEWAY")
        return None

    def _routes(self, table: int) -> list:
        """The IPv4 routes of one table (the kernel dumps every table)."""
        msg = rtmsg()
        msg["family"] = socket.AF_INET
        return [route for route in self.ipr.dump(msg, _RTM_GETROUTE) if route.get("RTA_TABLE") == table]

    def _set_alias(self, link: Link, owner: Owner) -> None:
        self.ipr.request(_ifinfmsg(link.index, IFLA_IFALIAS=owner.alias), _RTM_NEWLINK)


def create_netns(name: str) -> None:
    """A named namespace under /run/netns, for the lab's throwaway node and pods."""
    from pyroute2.netns import create

    create(name)


def remove_netns(name: str) -> None:
    from pyroute2.netns import remove

    with contextlib.suppress(FileNotFoundError):
        remove(name)
