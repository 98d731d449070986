"""Throwaway network namespaces, named for one test, readable through pyroute2.

A namespace is made with `ip netns add` (so it shows in `ip netns list` and under
/run/netns like a runtime's) and removed with `ip netns delete`. Reading never creates
one: pyroute2's own netns helpers create a missing namespace silently, so sockets are
opened here by entering the namespace with setns(2) for the current thread only.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Any

from krafty.testing import clean

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_FAMILIES = {4: 2, 6: 10}  # AF_INET, AF_INET6
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    """A namespace could not be made or removed, or has no such device."""


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


# Route types, rule actions and tables by name (rtnetlink.h, fib_rules.h), for readable state lines.
ROUTE_TYPES = dict(enumerate(
    ("unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit",
     "throw", "nat", "xresolve"),
))  # fmt: skip
RULE_ACTIONS = {0: "unspec", 1: "to_tbl", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}
TABLES = {253: "default", 254: "main", 255: "local"}
_NUD_PERMANENT = 0x80
_IFA_F_DADFAILED, _IFA_F_TENTATIVE = 0x08, 0x40
# The net.* sysctls of a namespace, read under /proc/sys/net from a thread inside it. netfilter's
# are counters and limits no plugin sets; per-device directories are kept for known devices only.
_SYSCTL_SKIP = ("netfilter",)
_PER_DEVICE_SYSCTL_DIRS = ("ipv4/conf", "ipv6/conf", "ipv4/neigh", "ipv6/neigh")
# One process reads what netlink does not give: tc, and netfilter where there are tables.
_TOOLS = {
    "iptables-save": "iptables-save",
    "ip6tables-save": "ip6tables-save",
    "iptables-legacy-save": "iptables-legacy-save",
    "ip6tables-legacy-save": "ip6tables-legacy-save",
    "nft": "nft list ruleset",
    "tc": "tc -json -force -batch -",
}
_NETFILTER_TOOLS = ("iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save", "nft")


def _tools_script(tools: Iterable[str]) -> str:
    """A shell script that runs each tool that is installed, its output after `@@ <tool>`."""
    return "\n".join(
        f'command -v {tool} >/dev/null && {{ echo "@@ {tool}"; {_TOOLS[tool]} 2>/dev/null; }}' for tool in tools
    )


def _legacy_tables(version: str) -> bool:
    names = Path(f"/proc/thread-self/net/ip{version}_tables_names")
    return names.exists() and bool(names.read_text().strip())


def _netfilter_tools() -> list[str]:
    """The netfilter tools with something to show in the calling thread's namespace: a fresh one
    needs none, and each is a process (0.1-0.5 s in the VM). nf_tables tables are listed over
    netlink (any: nft; ip: iptables-save; ip6: ip6tables-save), legacy ones in /proc (then
    iptables-legacy-save where installed, else iptables-save, which is the legacy one there).
    All of them when nf_tables cannot be asked."""
    try:
        from pyroute2.nftables.main import NFTables

        nft = NFTables(nfgen_family=0)  # NFPROTO_UNSPEC: the tables of every family
        try:
            tables = {m["nfgen_family"] for m in nft.get_tables()}
        finally:
            nft.close()
    except Exception:  # noqa: BLE001 - no nf_tables here, or pyroute2 cannot ask: run them all
        return list(_NETFILTER_TOOLS)
    needed = {"iptables-save": 2 in tables, "ip6tables-save": 10 in tables, "nft": bool(tables)}
    for version in ("", "6"):
        if _legacy_tables(version):
            legacy = f"ip{version}tables-legacy-save"
            needed[legacy if shutil.which(legacy) else f"ip{version}tables-save"] = True
    return [tool for tool in _NETFILTER_TOOLS if needed.get(tool)]


def family_number(family: int) -> int:
    """4 or 6 to AF_INET or AF_INET6; anything else is a ValueError."""
    try:
        return _FAMILIES[family]
    except (KeyError, TypeError):
        raise ValueError(f"family must be 4 or 6, not {family!r}") from None


class Netns:
    """A named network namespace that lives for one test (`cni_netns` makes them).

    `snapshot` is the baseline `cni_assert_clean` compares against: None until taken.
    """

    def __init__(self, role: str = "pod") -> None:
        self.role = role
        self.name = unique_name(role)
        self.path = str(NETNS_DIR / self.name)
        made = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True, check=False)
        if made.returncode:
            raise NetnsError(f"ip netns add {self.name}: {made.stderr.strip()}")
        self.removed = False
        self.snapshot: dict[str, list[str]] | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], role: str = "") -> Netns:
        """A namespace this object did not make (a runtime's `CNI_NETNS`, say): read, never removed."""
        ns = cls.__new__(cls)
        ns.role = role
        ns.path = os.fspath(path)
        ns.name = Path(ns.path).name
        ns.removed = True  # not ours: remove() leaves it alone
        ns.snapshot = None
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

    @contextmanager
    def _inside(self) -> Iterator[None]:
        """This thread in the namespace for the block (sockets and /proc/sys/net opened there stay bound)."""
        target = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(target)
                try:
                    yield
                finally:
                    _setns(home)
            finally:
                os.close(home)
        finally:
            os.close(target)

    def ipr(self) -> IPRoute:
        """A pyroute2 IPRoute bound to this namespace; close it (or use it in `with`).

        Never creates the namespace: a removed one raises FileNotFoundError.
        """
        with self._inside():
            return _iproute_class()()

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

    # --- devices and addresses -----------------------------------------------------------

    def links(self, *, ipr: IPRoute | None = None) -> dict[str, Link]:
        """Every device, by name."""
        with self._socket(ipr) as ipr:
            return {link.name: link for link in map(_link, ipr.link("dump"))}

    def _missing(self, ifname: str, links: dict[str, Link]) -> NetnsError:
        return NetnsError(f"no device {ifname} in {self.name}; there are {sorted(links)}")

    def link(self, name: str) -> Link:
        """One device; NetnsError (naming the devices there are) when it does not exist."""
        links = self.links()
        if name not in links:
            raise self._missing(name, links)
        return links[name]

    def up(self, ifname: str) -> None:
        with self._socket() as ipr:
            ipr.link("set", index=self._index(ipr, ifname), state="up")

    def _index(self, ipr: IPRoute, ifname: str) -> int:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise self._missing(ifname, self.links(ipr=ipr))
        return found[0]

    def addresses(
        self, ifname: str | None = None, family: int | None = None, *, ipr: IPRoute | None = None
    ) -> set[str]:
        """`address/prefix` strings, of one device (NetnsError if missing) or all; family 4 or 6 narrows."""
        kwargs: dict[str, Any] = {} if family is None else {"family": family_number(family)}
        with self._socket(ipr) as ipr:
            if ifname is not None:
                kwargs["index"] = self._index(ipr, ifname)
            return {f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}" for m in ipr.addr("dump", **kwargs)}

    def add_parent(self, name: str = "parent0", *, up: bool = True) -> Link:
        """A device to stand as the master of macvlan/ipvlan/vlan or to hand to host-device, made
        part of the baseline. A `dummy` where the kernel has it, else an `ifb` (a virtual ethernet
        device with no peer either: macvlan and host-device work on it). It gets no IPv6 link-local
        address (addrgenmode none), so nothing appears on it after the baseline by itself."""
        from pyroute2.netlink.exceptions import NetlinkError

        with self._socket() as ipr:
            for kind in ("dummy", "ifb"):
                try:
                    ipr.link("add", ifname=name, kind=kind)
                    break
                except NetlinkError as err:
                    if err.code != 95:  # EOPNOTSUPP, "Unknown device type"
                        raise NetnsError(f"{kind} {name} in {self.name}: {err}") from err
            else:
                raise NetnsError(f"{self.name}: this kernel has neither dummy nor ifb for a parent device")
        # No IPv6 link-local address: the kernel would add one on "up", and DAD would race the baseline.
        # Two commands, in this order: in one, the kernel brings the device up before it reads addrgenmode.
        self.run(
            "ip", "-batch", "-", input=f"link set {name} addrgenmode none\n" + (f"link set {name} up\n" if up else "")
        )
        self.rebaseline()
        return self.link(name)

    def wait_for_dad(self, ifname: str | None = None, timeout: float = 10.0) -> None:
        """Until no IPv6 address (of `ifname`, or of any device) is tentative; AssertionError
        when duplicate address detection failed or is still running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._socket() as ipr:
            kwargs = {"family": _FAMILIES[6]} | ({} if ifname is None else {"index": self._index(ipr, ifname)})
            while True:
                pending, failed = [], []
                for m in ipr.addr("dump", **kwargs):
                    flags = m["flags"]  # both flags are in the header's 8 bits (IFA_FLAGS extends them)
                    address = f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}"
                    if flags & _IFA_F_DADFAILED:
                        failed.append(address)
                    elif flags & _IFA_F_TENTATIVE:
                        pending.append(address)
                if failed:
                    raise AssertionError(f"duplicate address detection failed in {self.name}: {failed}")
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"still tentative in {self.name} after {timeout} s: {pending}")
                time.sleep(0.1)

    def ping(self, dst: str, *, source: str | None = None, count: int = 1, timeout: float = 5.0) -> str:
        """Ping `dst` (IPv4 or IPv6, from the address) from inside; its output, or AssertionError with it."""
        version = ip_address(dst).version
        argv = ["ping", f"-{version}", "-c", str(count), "-W", f"{timeout:g}"]
        if source is not None:
            argv += ["-I", source]
        done = self.run(*argv, dst, check=False, timeout=timeout * count + 10)
        if done.returncode:
            raise AssertionError(f"ping {dst} from {source or self.name} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    # --- routing ------------------------------------------------------------------------

    def routes(self, table: int | None = 254, family: int = 4, *, ipr: IPRoute | None = None) -> list[dict[str, Any]]:
        """Routes of one table (default: main; None: every table) of family 4 or 6, as plain dicts:
        dst (CIDR), gateway, dev (name), metric, table, scope, proto, type (numbers as the kernel's)."""
        fam = family_number(family)
        with self._socket(ipr) as ipr:
            names = {link.index: link.name for link in self.links(ipr=ipr).values()}
            messages = ipr.route("dump", family=fam, table=table)  # None: pyroute2 filters nothing
        return [_route(msg, names, family) for msg in messages]

    def default_route(self, table: int = 254, family: int = 4) -> dict[str, Any] | None:
        """The preferred (lowest-metric) default route of a table, IPv4 or IPv6."""
        default = "0.0.0.0/0" if family_number(family) == _FAMILIES[4] else "::/0"
        defaults = [r for r in self.routes(table, family) if r["dst"] == default]
        return min(defaults, key=lambda r: r["metric"]) if defaults else None

    def rules(self, family: int = 4, *, ipr: IPRoute | None = None) -> list[dict[str, Any]]:
        """Policy routing rules (`ip rule`) of family 4 or 6, as dicts of their attributes."""
        fam = family_number(family)
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
                    "fwmark": m.get("FRA_FWMARK") or None,
                }
                for m in ipr.get_rules(family=fam)
            ]

    # --- the baseline ---------------------------------------------------------------------

    def rebaseline(self) -> None:
        """Take the baseline again: what the test set up itself (a parent device, say) is not a leak."""
        self.snapshot = self.state()

    def state(self, devices: Iterable[str] | None = None) -> dict[str, list[str]]:
        """Everything `cni_assert_clean` compares, as sorted readable lines per part (see
        docs/harness/clean.md). Per-device parts (device attributes, per-device sysctls, tc) cover
        `devices` that still exist (default: every device): new devices are reported once, as links.
        One rtnetlink socket (and one nf_tables socket), /proc/sys/net read from this thread, one
        process: tc, run by a shell with the netfilter tools where there are tables to list."""
        with self._socket() as ipr:
            links = list(map(_link, ipr.link("dump")))
            names = {link.index: link.name for link in links}
            wanted = set(names.values()) if devices is None else set(devices) & set(names.values())
            addrs = [(m, names.get(m["index"])) for m in ipr.addr("dump")]
            routes = [_route(m, names, fam) for fam in (4, 6) for m in ipr.route("dump", family=_FAMILIES[fam])]
            rules = [(fam, r) for fam in (4, 6) for r in self.rules(fam, ipr=ipr)]
            neighbours = [m for m in ipr.get_neighbours() if m["state"] & _NUD_PERMANENT]
            with self._inside():
                sysctls = _read_sysctls(wanted)
                netfilter = _netfilter_tools()
        batch = clean.tc_batch(sorted(wanted))
        if netfilter:
            script = _tools_script([*netfilter, "tc"])
            sections = clean.split_sections(self.run("sh", "-c", script, input=batch, check=False).stdout)
        else:  # the common case: tc alone, one process
            sections = {"tc": self.run(*_TOOLS["tc"].split(), input=batch, check=False).stdout}
        return {
            "links": sorted(f"{link.name} ({link.kind or 'device'})" for link in links),
            "devices": sorted(line for link in links if link.name in wanted for line in _attributes(link, names)),
            "addresses": sorted(f"{m.get('IFA_ADDRESS')}/{m['prefixlen']} dev {dev}" for m, dev in addrs),
            "routes": sorted(map(_route_line, routes)),
            "rules": sorted(_rule_line(fam, rule) for fam, rule in rules),
            "neighbours": sorted(
                f"{m.get('NDA_DST')} dev {names.get(m['ifindex'])} lladdr {m.get('NDA_LLADDR')} permanent"
                for m in neighbours
            ),
            "sysctls": sorted(f"{key} = {value}" for key, value in sysctls.items()),
            "netfilter": clean.netfilter_lines(sections),
            "tc": clean.tc_lines(sections.get("tc", ""), sorted(wanted)),
        }

    def remove(self) -> None:
        """Delete the namespace; a failure is an error for the caller to report."""
        if self.removed:
            return
        done = subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, text=True, check=False)
        if done.returncode and self.exists:
            raise NetnsError(f"ip netns delete {self.name}: {done.stderr.strip()}")
        self.removed = True


def _route(msg: Any, names: dict[int, str], family: int) -> dict[str, Any]:
    default = "0.0.0.0" if family == 4 else "::"
    return {
        "dst": f"{msg.get('RTA_DST') or default}/{msg['dst_len']}",
        "gateway": msg.get("RTA_GATEWAY"),
        "dev": names.get(msg.get("RTA_OIF")),
        "metric": msg.get("RTA_PRIORITY") or 0,
        "table": msg.get("RTA_TABLE") or msg["table"],
        "scope": msg["scope"],
        "proto": msg["proto"],
        "type": msg["type"],
    }


def _route_line(r: dict[str, Any]) -> str:
    """`10.0.0.0/24 table main dev eth0 metric 0 unicast`, `via <gw>` only when there is one."""
    via = f" via {r['gateway']}" if r["gateway"] else ""
    dev = f" dev {r['dev']}" if r["dev"] else ""
    kind = ROUTE_TYPES[r["type"]]  # every type the kernel has (RTN_MAX)
    return f"{r['dst']} table {TABLES.get(r['table'], r['table'])}{dev}{via} metric {r['metric']} {kind}"


def _rule_line(family: int, rule: dict[str, Any]) -> str:
    shown = rule | {"action": RULE_ACTIONS.get(rule["action"], rule["action"])}
    return " ".join(f"{k} {v}" for k, v in shown.items() if v is not None) + f" ipv{family}"


def _attributes(link: Link, names: dict[int, str]) -> list[str]:
    """`<dev> <attribute> = <value>` lines, one per attribute a plugin may change and must restore."""
    master = names[link.master] if link.master else "-"  # a master is in its device's namespace
    values = {"mtu": link.mtu, "state": "up" if link.up else "down", "master": master, "mac": link.mac}
    return [f"{link.name} {key} = {value}" for key, value in values.items()] + [f"{link.name} alias = {link.alias}"]


def _read_sysctls(devices: set[str]) -> dict[str, str]:
    """`net.*` sysctls of the calling thread's namespace; per-device ones of `devices` (and all, default)."""
    root = Path("/proc/sys/net")
    keep = devices | {"all", "default"}
    values: dict[str, str] = {}
    for directory, subdirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        if rel in _PER_DEVICE_SYSCTL_DIRS:
            subdirs[:] = [d for d in subdirs if d in keep]
        elif rel == ".":
            subdirs[:] = [d for d in subdirs if d not in _SYSCTL_SKIP]
        for name in files:
            path = os.path.join(directory, name)
            try:
                with open(path) as f:
                    value = f.read()
            except OSError:  # write-only (route.flush) or unreadable (stable_secret unset)
                continue
            key = "net." + os.path.relpath(path, root).replace("/", ".")
            values[key] = " ".join(value.split())
    return values
