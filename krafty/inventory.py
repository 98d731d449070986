"""What krafty has on this node, grouped by attachment, and the orphans among it.

For people iterating on the plugin: `krafty inspect` shows it, `krafty gc` removes the
orphans. Runs in the namespace it is started in (the node's).

An attachment is orphaned when its set of devices is incomplete (the pod's netns went away
and took the veth with it, or an ADD was interrupted), when a device's owner was never
recorded, or when host-local holds an address for a container with no krafty devices.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krafty.dataplane import Link, Netns, Owner, teardown_order
from krafty.lock import device_lock

NETNS_DIRS = ("/run/netns", "/var/run/netns")
HOST_LOCAL_DIR = "/var/lib/cni/networks"  # host-local's default dataDir


@dataclass
class Attachment:
    owner: Owner | None
    devices: list[Link] = field(default_factory=list)
    pod_netns: str | None = None
    pod_address: list[str] = field(default_factory=list)
    allocations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def orphan(self) -> bool:
        return bool(self.problems)

    def device(self, kind: str) -> Link | None:
        return next((d for d in self.devices if d.kind == kind), None)

    def to_json(self) -> dict[str, Any]:
        vrf = self.device("vrf")
        return {
            "containerID": self.owner.container_id if self.owner else None,
            "network": self.owner.network if self.owner else None,
            "ifname": self.owner.ifname if self.owner else None,
            "vrf": vrf.name if vrf else None,
            "table": vrf.vrf_table if vrf else None,
            "bridge": _name(self.device("bridge")),
            "hostVeth": _name(self.device("veth")),
            "podNetns": self.pod_netns,
            "podAddresses": self.pod_address,
            "allocations": self.allocations,
            "orphan": self.orphan,
            "problems": self.problems,
        }


def _name(link: Link | None) -> str | None:
    return link.name if link else None


@dataclass(frozen=True)
class Allocation:
    network: str
    address: str
    container_id: str
    path: Path
    ifname: str = ""  # empty in files written before host-local recorded it


def host_local_allocations(ipam_dir: str, networks: set[str]) -> list[Allocation]:
    """host-local keeps one file per reserved address, holding "containerID\\r\\nifname"."""
    found = []
    for network in sorted(networks):
        store = Path(ipam_dir, network)
        for entry in sorted(store.glob("*")) if store.is_dir() else ():
            if entry.name.count(".") == 3 and entry.is_file():
                lines = [line.strip() for line in entry.read_text(errors="replace").splitlines()[:2]] + ["", ""]
                found.append(Allocation(network, entry.name, lines[0], entry, lines[1]))
    return found


def _named_namespaces(node: Netns) -> dict[int, str]:
    found = {}
    for directory in NETNS_DIRS:
        for entry in sorted(Path(directory).glob("*")) if Path(directory).is_dir() else ():
            nsid = node.nsid_of(str(entry))
            if nsid is not None:
                found.setdefault(nsid, str(entry))
    return found


def _pod_view(attachment: Attachment, veth: Link, namespaces: dict[int, str]) -> None:
    path = namespaces.get(veth.peer_nsid)
    if path is None:
        attachment.pod_netns = f"nsid {veth.peer_nsid} (not named under /run/netns)"
        return
    attachment.pod_netns = path
    with Netns(path) as pod:
        peer = pod.get_index(veth.peer_index)
        if peer is not None:
            attachment.pod_address = sorted(str(a) for a in pod.addresses(peer))


def collect(ipam_dir: str = HOST_LOCAL_DIR, networks: set[str] = frozenset()) -> list[Attachment]:
    with Netns() as node:
        owned: dict[Owner, Attachment] = {}
        attachments: list[Attachment] = []
        for link in node.links():
            if not link.krafty_made:
                continue
            if link.owner is None:
                attachments.append(Attachment(None, [link], problems=["owner never recorded (ADD interrupted)"]))
                continue
            owned.setdefault(link.owner, Attachment(link.owner)).devices.append(link)
        namespaces = _named_namespaces(node)
        for attachment in owned.values():
            missing = [kind for kind in ("vrf", "bridge", "veth") if attachment.device(kind) is None]
            if missing:
                attachment.problems.append(f"incomplete: no {', '.join(missing)}")
            veth = attachment.device("veth")
            if veth is not None:
                _pod_view(attachment, veth, namespaces)
        attachments[:0] = owned.values()

    # One container may have several attachments on a network (one per interface): match on
    # the interface too when host-local recorded it.
    by_container = {(a.owner.network, a.owner.container_id): a for a in owned.values()}
    for allocation in host_local_allocations(ipam_dir, set(networks) | {o.network for o in owned}):
        attachment = owned.get(Owner(allocation.network, allocation.ifname, allocation.container_id))
        if attachment is None and not allocation.ifname:
            attachment = by_container.get((allocation.network, allocation.container_id))
        if attachment is None:
            attachment = Attachment(Owner(allocation.network, allocation.ifname, allocation.container_id))
            attachment.problems.append(
                "host-local allocation without devices"
                if allocation.container_id
                else "host-local reservation without a container ID (an IPAM ADD killed while writing it)"
            )
            attachments.append(attachment)
        attachment.allocations.append(allocation.address)
    return attachments


def remove_orphans(attachments: list[Attachment], ipam_dir: str, dry_run: bool) -> list[str]:
    """Delete the orphans' devices (veth, bridge, VRF) and stale host-local files; say what."""
    removed = []
    with Netns() as node, device_lock():
        for attachment in (a for a in attachments if a.orphan):
            for link in teardown_order(attachment.devices):
                if attachment.owner is None and not _still_unnamed(node, link):
                    continue  # an ADD in flight named it since it was listed
                if dry_run or node.delete_link(link):
                    removed.append(f"{link.kind} {link.name}")
            if attachment.owner is not None:
                for address in attachment.allocations:
                    if dry_run or _release(ipam_dir, attachment.owner.network, address):
                        removed.append(f"host-local {attachment.owner.network} {address}")
    return removed


def _still_unnamed(node: Netns, link: Link) -> bool:
    """Under the device lock no ADD is between creating a device and naming it (lock.py)."""
    now = node.get_index(link.index)
    return now is not None and now.name == link.name and now.owner is None


def _release(ipam_dir: str, network: str, address: str) -> bool:
    """Remove host-local's reservation file under host-local's own lock."""
    store = Path(ipam_dir, network)
    with open(store / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            os.unlink(store / address)
        except FileNotFoundError:
            return False
    return True


def render(attachments: list[Attachment]) -> str:
    if not attachments:
        return "no krafty devices on this node\n"
    lines = []
    for a in attachments:
        who = f"container {a.owner.container_id[:12]}  network {a.owner.network}  ifname {a.owner.ifname or '-'}"
        lines.append(("ORPHAN  " if a.orphan else "") + (who if a.owner else "unowned device"))
        names = {link.index: link.name for link in a.devices}
        for link in a.devices:
            extra = f"table {link.vrf_table}" if link.kind == "vrf" else f"on {names.get(link.master, link.master)}"
            lines.append(f"  {link.kind:<7} {link.name:<16} {'up' if link.up else 'down':<5} {extra}")
        if a.pod_netns:
            lines.append(f"  pod     {a.pod_netns}  {' '.join(a.pod_address) or '(no address)'}")
        for address in a.allocations:
            lines.append(f"  ipam    host-local {address}")
        lines.extend(f"  ! {problem}" for problem in a.problems)
    return "\n".join(lines) + "\n"
