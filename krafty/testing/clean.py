"""`cni_assert_clean`: nothing a plugin made is left once its attachments are gone.

Each namespace's state (devices, addresses, routes of every table, rules) is recorded when
the namespace is made; afterwards it must be the same again. IPAM stores are directories in
which a reservation is a file (host-local: one file per address); only host-local's own
bookkeeping files may stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from krafty.testing.netns import Netns

# host-local keeps these beside its reservations; they hold no address.
IPAM_BOOKKEEPING = ("lock", "last_reserved_ip.")

Check = Callable[[], Iterable[str]]


def ipam_leftovers(directory: Path) -> list[str]:
    """Reservation files under an IPAM store, as paths relative to it."""
    if not directory.exists():
        return []
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and not path.name.startswith(IPAM_BOOKKEEPING)
    )


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    lines = []
    for key in before:
        added = sorted(set(after[key]) - set(before[key]))
        gone = sorted(set(before[key]) - set(after[key]))
        lines += [f"{key} left: {item}" for item in added] + [f"{key} gone: {item}" for item in gone]
    return lines


class CleanChecker:
    """Callable as `cni_assert_clean(node, *pods, ipam_dirs=())`; `add_check` extends it."""

    def __init__(self) -> None:
        self.checks: list[tuple[str, Check]] = []
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        """Accept a difference that contains `text` (state the kernel itself leaves, say)."""
        self.allowed.append(text)

    def add_check(self, name: str, check: Check) -> None:
        """An extra check run on every call: it returns what it found left (empty = clean)."""
        self.checks.append((name, check))

    def problems(self, *namespaces: Netns, ipam_dirs: Iterable[Path | str] = ()) -> list[str]:
        found = []
        for ns in namespaces:
            if not ns.exists:
                continue  # a removed pod namespace took its devices with it
            lines = differences(ns.snapshot, ns.state())
            found += [f"{ns.name}: {line}" for line in lines if not any(text in line for text in self.allowed)]
        for directory in ipam_dirs:
            found += [f"IPAM store {directory}: {name}" for name in ipam_leftovers(Path(directory))]
        for name, check in self.checks:
            found += [f"{name}: {item}" for item in check()]
        return found

    def __call__(self, *namespaces: Netns, ipam_dirs: Iterable[Path | str] = ()) -> None:
        found = self.problems(*namespaces, ipam_dirs=ipam_dirs)
        assert not found, "left behind:\n  " + "\n  ".join(found)
