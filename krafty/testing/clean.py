"""`cni_assert_clean`: nothing a plugin made is left once its attachments are gone.

Each namespace's state (`Netns.state()`: devices and their attributes, addresses, routes,
rules, permanent neighbours, net.* sysctls, netfilter, tc) is recorded as its baseline;
afterwards it must be the same again. The text normalisers here turn tool output into lines
that compare equal when the state is equal (no counters, no timestamps). IPAM stores are
directories in which a reservation is a file; only host-local's own bookkeeping files may stay.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from krafty.testing.netns import Netns

# host-local keeps these beside its reservations; they hold no address.
IPAM_BOOKKEEPING = ("lock", "last_reserved_ip.")
# Parts of a state whose lines describe one device: of a device that is gone, only "links gone" is said.
PER_DEVICE = ("devices", "sysctls", "tc")

Check = Callable[[], Iterable[str]]


class Leftovers(Protocol):
    """What a private mount namespace left (krafty.testing.mounts.PrivateMounts)."""

    def leftovers(self) -> list[str]: ...


def ipam_leftovers(directory: Path) -> list[str]:
    """Reservation files under an IPAM store, as paths relative to it."""
    if not directory.exists():
        return []
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and not path.name.startswith(IPAM_BOOKKEEPING)
    )


# --- tool output to comparable lines -----------------------------------------------------------


def split_sections(text: str) -> dict[str, str]:
    """`@@ name` lines split one process's output into its tools' parts."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@ "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


_COUNTERS = re.compile(r"\s*\[\d+:\d+\]")


def iptables_lines(tool: str, text: str) -> tuple[list[str], set[str]]:
    """`iptables-save` output as `<tool> <table> <rule or chain>` lines, and the tables it showed.

    Comments (timestamps), COMMIT and packet counters go, but not a warning (iptables-nft's "legacy
    tables present"); a built-in chain whose policy is still ACCEPT is no state (an empty table
    listed, or not, compares equal).
    """
    lines, tables, table = [], set(), ""
    for raw in text.splitlines():
        line = _COUNTERS.sub("", raw).strip()
        if not line or (line.startswith("#") and not line.startswith("# Warning")) or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:]
            tables.add(table)
            continue
        if line.startswith(":") and line.split()[1:2] == ["ACCEPT"]:
            continue
        lines.append(f"{tool} {table} {line}")
    return lines, tables


_NFT_COUNTERS = re.compile(r"\b(packets|bytes) \d+\s*")
_NFT_VOLATILE = re.compile(r"\s*\bexpires [\dhms]+")


def nft_lines(text: str, skip_tables: set[str] = frozenset()) -> list[str]:
    """`nft list ruleset` flattened: each statement as `nft <table> <chain...>: <statement>`, each
    table/chain/set also as a line of its own (an empty one is state too); counters and comments go.
    Tables named in `skip_tables` (`ip nat`, ...: iptables-nft's, listed by iptables-save) are left out."""
    lines: list[str] = []
    stack: list[str] = []
    for raw in text.splitlines():
        line = _NFT_VOLATILE.sub("", _NFT_COUNTERS.sub("", raw)).strip()
        if not line or line.startswith("#"):
            continue
        depth = line.count("{") - line.count("}")
        skipped = bool(stack) and stack[0].removeprefix("table ") in skip_tables
        if depth > 0:
            stack.append(line.rstrip("{ ").strip())
            skipped = stack[0].removeprefix("table ") in skip_tables
            if not skipped:
                lines.append("nft " + " ".join(stack))
        elif depth < 0 or line == "}":
            if stack:
                stack.pop()
        elif not skipped:
            lines.append(f"nft {' '.join(stack)}: {line}")
    return lines


def netfilter_lines(sections: dict[str, str]) -> list[str]:
    """iptables-save, ip6tables-save, their -legacy- forms and nft, each where present. With the
    nf_tables backend the iptables tables are also nft tables: they are listed once, the iptables way."""
    lines: list[str] = []
    listed: set[str] = set()
    for tool in ("iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"):
        text = sections.get(tool, "")
        found, tables = iptables_lines(tool.removesuffix("-save"), text)
        lines += found
        if "(nf_tables)" in text:  # never so in a -legacy- tool's output
            family = "ip6" if tool.startswith("ip6") else "ip"
            listed |= {f"{family} {table}" for table in tables}
    lines += nft_lines(sections.get("nft", ""), listed)
    return sorted(lines)


TC_COMMANDS = ("qdisc show dev {}", "filter show dev {}", "filter show dev {} ingress", "filter show dev {} egress")


def tc_batch(devices: list[str]) -> str:
    """The `tc -json -batch` input that tc_lines() reads: TC_COMMANDS for each device in order."""
    return "".join(command.format(dev) + "\n" for dev in devices for command in TC_COMMANDS)


def _flat(value: object, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in _flat(inner, f"{prefix}{key}.")]
    return [f"{prefix.rstrip('.')} {json.dumps(value) if isinstance(value, list) else value}"]


def tc_lines(text: str, devices: list[str]) -> list[str]:
    """`tc -json -batch` output (one JSON array per command of tc_batch(devices)) as
    `<dev>: qdisc <kind> <handle> root|parent <p> <options>` and `<dev>: filter <where> <kind> ...`
    lines; reference counts go. A count that does not match (a device went while tc read) is a line."""
    arrays, decoder, at = [], json.JSONDecoder(), 0
    while (at := _skip_space(text, at)) < len(text):
        value, at = decoder.raw_decode(text, at)
        arrays.append(value)
    commands = [(dev, command.split()[0], command.split()[4:]) for dev in devices for command in TC_COMMANDS]
    if len(arrays) != len(commands):
        return [f"tc: {len(arrays)} answers to {len(commands)} commands (a device went while reading)"]
    lines = []
    for (dev, what, where), entries in zip(commands, arrays, strict=True):
        for entry in entries:
            entry = {k: v for k, v in entry.items() if k != "refcnt"}
            head = [what, *where, str(entry.pop("kind", "?")), str(entry.pop("handle", ""))]
            if entry.pop("root", False):
                head.append("root")
            lines.append(f"{dev}: " + " ".join([*filter(None, head), *_flat(entry)]))
    return sorted(lines)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


# --- comparing two states ----------------------------------------------------------------------


def _keyed(lines: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """`key = value` lines by key (sysctls, device attributes), the other lines as they are."""
    keyed, plain = {}, set()
    for line in lines:
        key, sep, value = line.partition(" = ")
        if sep:
            keyed[key] = value
        else:
            plain.add(line)
    return keyed, plain


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """`<part> left: x`, `<part> gone: x`, and for `key = value` lines `<part> changed: key: old -> new`."""
    lines = []
    for part in sorted(before.keys() | after.keys()):
        old_keyed, old_plain = _keyed(before.get(part, ()))
        new_keyed, new_plain = _keyed(after.get(part, ()))
        old_plain |= {f"{k} = {v}" for k, v in old_keyed.items() if k not in new_keyed}
        new_plain |= {f"{k} = {v}" for k, v in new_keyed.items() if k not in old_keyed}
        lines += [f"{part} left: {item}" for item in sorted(new_plain - old_plain)]
        lines += [f"{part} gone: {item}" for item in sorted(old_plain - new_plain)]
        lines += [
            f"{part} changed: {key}: {old_keyed[key]} -> {new_keyed[key]}"
            for key in sorted(old_keyed.keys() & new_keyed.keys())
            if old_keyed[key] != new_keyed[key]
        ]
    return lines


def link_names(state: dict[str, list[str]]) -> set[str]:
    """The device names of a state's `links` part (`name (kind)` lines)."""
    return {line.rsplit(" (", 1)[0] for line in state.get("links", ())}


def _about(line: str, device: str) -> bool:
    """Whether a per-device line (attribute, sysctl, tc) is about `device`."""
    return line.startswith((f"{device} ", f"{device}: ")) or f".{device}." in line or f" dev {device} " in line


def compare(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """differences(), less the per-device lines of devices already reported gone as links."""
    gone = link_names(before) - link_names(after)
    trimmed = {
        part: [line for line in lines if not (part in PER_DEVICE and any(_about(line, dev) for dev in gone))]
        for part, lines in before.items()
    }
    return differences(trimmed, after)


class CleanChecker:
    """Callable as `cni_assert_clean(node, *pods, ipam_dirs=())`; `add_check` extends it."""

    def __init__(self, mounts: Leftovers | None = None) -> None:
        self.checks: list[tuple[str, Check]] = []
        self.allowed: list[tuple[str, str | None]] = []
        self.mounts = mounts

    def allow(self, text: str, netns: Netns | str | None = None) -> None:
        """Accept a difference that contains `text` (state a plugin or the kernel leaves by design),
        in every namespace or only in `netns` (a Netns or its name)."""
        self.allowed.append((text, getattr(netns, "name", netns)))

    def add_check(self, name: str, check: Check) -> None:
        """An extra check run on every call: it returns what it found left (empty = clean)."""
        self.checks.append((name, check))

    def _allowed(self, name: str, line: str) -> bool:
        return any(text in line and where in (None, name) for text, where in self.allowed)

    def problems(self, *namespaces: Netns, ipam_dirs: Iterable[Path | str] = ()) -> list[str]:
        found = []
        for ns in namespaces:
            if ns.snapshot is None:
                raise AssertionError(
                    f"{ns.name} has no baseline to compare with: take one with rebaseline() before the plugin runs"
                )
            if not ns.exists:
                if ns.role == "node":  # a pod's namespace may go with its pod; the node's must stay
                    found.append(f"{ns.name}: the node namespace is gone")
                continue
            lines = compare(ns.snapshot, ns.state(devices=link_names(ns.snapshot)))
            found += [f"{ns.name}: {line}" for line in lines if not self._allowed(ns.name, line)]
        for directory in ipam_dirs:
            found += [f"IPAM store {directory}: {name}" for name in ipam_leftovers(Path(directory))]
        if self.mounts is not None:
            found += [f"private mount: {path}" for path in self.mounts.leftovers() if not self._allowed("", path)]
        for name, check in self.checks:
            found += [f"{name}: {item}" for item in check()]
        return found

    def __call__(self, *namespaces: Netns, ipam_dirs: Iterable[Path | str] = ()) -> None:
        found = self.problems(*namespaces, ipam_dirs=ipam_dirs)
        if found:  # raised, not asserted: this module is not rewritten by pytest and `-O` strips asserts
            raise AssertionError("left behind:\n  " + "\n  ".join(found))
