"""Throwaway network namespaces, named for one test, readable through pyroute2.

A namespace is made with `ip netns add` (so it shows in `ip netns list` and under
/run/netns like a runtime's) and removed with `ip netns delete`. Reading never creates
one: pyroute2's own netns helpers create a missing namespace silently, so sockets are
opened here by entering the namespace with setns(2) for the current thread only.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_AF_INET, _AF_INET6 = 2, 10
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    """A namespace could not be made or removed."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _iproute_class() -> type[IPRoute]:
    """pyroute2 only when a test reads a namespace: loading the plugin must stay cheap."""
    from pyroute2 import IPRoute

    return IPRoute


def unique_name(role: str) -> str:
    """`cni-<role>-<xdist worker>-<random>`: unique across `pytest -n` workers and runs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"cni-{role}-{worker}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Link:
    """What a test usually asks of a device, plus the raw netlink message."""

    name: str
    index: int
    kind: str
    up: bool
    mac: str
    mtu: int
    master: int
    link: int  # a veth's peer index, 0 when none
    group: int
    alias: str
    raw: Any

    @property
    def info_data(self) -> Any:
        info = self.raw.get("IFLA_LINKINFO")
        return info.get("IFLA_INFO_DATA") if info else None


def _link(msg: Any) -> Link:
    info = msg.get("IFLA_LINKINFO")
    return Link(
        name=msg.get("IFLA_IFNAME"),
        index=msg["index"],
        kind=(info.get("IFLA_INFO_KIND") if info else None) or "",
        up=bool(msg["flags"] & 1),
        mac=msg.get("IFLA_ADDRESS") or "",
        mtu=msg.get("IFLA_MTU") or 0,
        master=msg.get("IFLA_MASTER") or 0,
        link=msg.get("IFLA_LINK") or 0,
        group=msg.get("IFLA_GROUP") or 0,
        alias=msg.get("IFLA_IFALIAS") or "",
        raw=msg,
    )


class Netns:
    """A named network namespace that lives for one test (`cni_netns` makes them)."""

    def __init__(self, role: str = "pod") -> None:
        self.role = role
        self.name = unique_name(role)
        self.path = str(NETNS_DIR / self.name)
        made = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True, check=False)
        if made.returncode:
            raise NetnsError(f"ip netns add {self.name}: {made.stderr.strip()}")
        self.removed = False
        self.snapshot: dict[str, Any] = {}

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], role: str = "") -> Netns:
        """A namespace this object did not make (a runtime's `CNI_NETNS`, say): read, never removed."""
        ns = cls.__new__(cls)
        ns.role = role
        ns.path = os.fspath(path)
        ns.name = Path(ns.path).name
        ns.removed = True  # not ours: remove() leaves it alone
        ns.snapshot = {}
        return ns

    def __repr__(self) -> str:
        return f"Netns({self.name!r})"

    def __fspath__(self) -> str:
        return self.path

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()

    def run(
        self, *argv: str, check: bool = True, timeout: float | None = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (through nsenter); output captured as text."""
        done = subprocess.run(
            ["nsenter", f"--net={self.path}", *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            input=input,
        )
        if check and done.returncode:
            raise AssertionError(
                f"{' '.join(argv)} in {self.name} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done

    def ipr(self) -> IPRoute:
        """A pyroute2 IPRoute bound to this namespace; close it (or use it in `with`).

        Never creates the namespace: a removed one raises FileNotFoundError.
        """
        target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
                try:
                    return _iproute_class()()
                finally:
                    _setns(home)
            finally:
                os.close(home)
        finally:
            os.close(target)

    @contextmanager
    def _socket(self, shared: IPRoute | None = None) -> Iterator[IPRoute]:
        """The caller's open socket, or a new one for this read (in the VM each costs ~30 ms)."""
        if shared is not None:
            yield shared
            return
        ipr = self.ipr()
        try:
            yield ipr
        finally:
            ipr.close()

    def links(self, *, ipr: IPRoute | None = None) -> dict[str, Link]:
        """Every device, by name."""
        with self._socket(ipr) as ipr:
            return {link.name: link for link in map(_link, ipr.link("dump"))}

    def up(self, ifname: str) -> None:
        with self._socket() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")

    def link(self, name: str) -> Link:
        links = self.links()
        assert name in links, f"no device {name} in {self.name}; there are {sorted(links)}"
        return links[name]

    def addresses(
        self, ifname: str | None = None, family: int | None = None, *, ipr: IPRoute | None = None
    ) -> set[str]:
        """`address/prefix` strings, of one device or all; family 4 or 6 narrows."""
        families = {4: _AF_INET, 6: _AF_INET6}
        with self._socket(ipr) as ipr:
            kwargs: dict[str, Any] = {}
            if ifname is not None:
                found = ipr.link_lookup(ifname=ifname)
                if not found:
                    return set()
                kwargs["index"] = found[0]
            if family is not None:
                kwargs["family"] = families[family]
            return {f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.addr("dump", **kwargs)}

    def routes(self, table: int | None = 254, family: int = 4, *, ipr: IPRoute | None = None) -> list[dict[str, Any]]:
        """Routes of one table (default: main; None: every table) as plain dicts:
        dst (CIDR), gateway, dev (name), metric, table, scope, proto, type."""
        fam = {4: _AF_INET, 6: _AF_INET6}[family]
        with self._socket(ipr) as ipr:
            names = {link.index: link.name for link in self.links(ipr=ipr).values()}
            messages = ipr.route("dump", family=fam, **({} if table is None else {"table": table}))
        default = "0.0.0.0" if family == 4 else "::"
        routes = []
        for msg in messages:
            routes.append(
                {
                    "dst": f"{msg.get('RTA_DST') or default}/{msg['dst_len']}",
                    "gateway": msg.get("RTA_GATEWAY"),
                    "dev": names.get(msg.get("RTA_OIF")),
                    "metric": msg.get("RTA_PRIORITY") or 0,
                    "table": msg.get("RTA_TABLE") or msg["table"],
                    "scope": msg["scope"],
                    "proto": msg["proto"],
                    "type": msg["type"],
                }
            )
        return routes

    def default_route(self, table: int = 254) -> dict[str, Any] | None:
        """The preferred (lowest-metric) IPv4 default route of a table."""
        defaults = [r for r in self.routes(table) if r["dst"] == "0.0.0.0/0"]
        return min(defaults, key=lambda r: r["metric"]) if defaults else None

    def rules(self, family: int = 4, *, ipr: IPRoute | None = None) -> list[dict[str, Any]]:
        """Policy routing rules (`ip rule`), as dicts of their attributes."""
        fam = {4: _AF_INET, 6: _AF_INET6}[family]
        with self._socket(ipr) as ipr:
            return [
                {
                    "priority": m.get("FRA_PRIORITY", 0),
                    "table": m.get("FRA_TABLE") or m["table"],
                    "action": m["action"],
                    "src": f"{m.get('FRA_SRC')}/{m['src_len']}" if m.get("FRA_SRC") else None,
                    "dst": f"{m.get('FRA_DST')}/{m['dst_len']}" if m.get("FRA_DST") else None,
                    "iif": m.get("FRA_IIFNAME"),
                    "oif": m.get("FRA_OIFNAME"),
                    "l3mdev": m.get("FRA_L3MDEV") or None,
                }
                for m in ipr.get_rules(family=fam)
            ]

    def state(self) -> dict[str, list[str]]:
        """Everything `cni_assert_clean` compares: devices, addresses, routes of every table, rules."""
        with self._socket() as ipr:
            links = self.links(ipr=ipr).values()
            routes = [r for family in (4, 6) for r in self.routes(None, family, ipr=ipr)]
            rules = [r for family in (4, 6) for r in self.rules(family, ipr=ipr)]
            return {
                "links": sorted(f"{link.name} ({link.kind or 'device'})" for link in links),
                "addresses": sorted(self.addresses(ipr=ipr)),
                "routes": sorted(
                    f"{r['dst']} table {r['table']} dev {r['dev']} via {r['gateway']} metric {r['metric']} "
                    f"type {r['type']}"
                    for r in routes
                ),
                "rules": sorted(" ".join(f"{k} {v}" for k, v in r.items() if v is not None) for r in rules),
            }

    def remove(self) -> None:
        """Delete the namespace; a failure is an error for the caller to report."""
        if self.removed:
            return
        done = subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, text=True, check=False)
        if done.returncode and self.exists:
            raise NetnsError(f"ip netns delete {self.name}: {done.stderr.strip()}")
        self.removed = True
