"""Plugins in a private mount namespace: what they write on "the host" stays in a tmpfs.

Plugins only switch network namespace, so they share the host's files: host-local without
`dataDir` writes /var/lib/cni/networks, tuning /run/cni/tuning. A holder process, made by
`unshare --mount --propagation slave`, puts an overlay over each path (over its nearest
existing ancestor when the path does not exist, so nothing is created on the host) whose
upper layer is a tmpfs, then sleeps. Plugins run with `nsenter --mount=/proc/<holder>/ns/mnt`:
they read the host's files and write into the tmpfs, where `leftovers()` lists them. The mounts
below an overlaid directory (/run/netns under /run: the namespaces' bind mounts, which stay
slaves of the host's and so keep receiving namespaces made later) are bound back on top.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from krafty.testing.clean import IPAM_BOOKKEEPING

DEFAULT_PATHS = ("/var/lib/cni", "/run/cni")
_REFUSED = ("/", "/proc", "/sys", "/dev")

# Runs as the holder: argv = staging dir, then the directories to overlay. Prints "ready", sleeps.
_HOLDER = r"""
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: gone with the test session
MS_BIND, MS_REC = 4096, 16384

def mount(source, target, fstype, flags, data):
    if libc.mount(source.encode(), target.encode(), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        sys.exit(f"mount {fstype} {source} on {target} ({data}): {os.strerror(err)}")

def submounts(directory):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(directory.rstrip("/") + "/") and not any(point.startswith(p + "/") for p in found):
                found.append(point)
    return found

staging, targets = sys.argv[1], sys.argv[2:]
mount("krafty-private", staging, "tmpfs", 0, "mode=0700")
for i, target in enumerate(targets):
    layer = os.path.join(staging, str(i))
    for sub in ("upper", "work", "keep"):
        os.makedirs(os.path.join(layer, sub))
    kept = submounts(target)
    for k, point in enumerate(kept):
        os.mkdir(os.path.join(layer, "keep", str(k)))
        mount(point, os.path.join(layer, "keep", str(k)), "", MS_BIND | MS_REC, "")
    options = f"lowerdir={target},upperdir={layer}/upper,workdir={layer}/work"
    mount("krafty-private", target, "overlay", 0, options)
    for k, point in enumerate(kept):
        mount(os.path.join(layer, "keep", str(k)), point, "", MS_BIND | MS_REC, "")
print("ready", flush=True)
signal.pause()
"""


def cover(path: str) -> str:
    """The directory to overlay for `path`: itself, else its nearest existing ancestor."""
    target = Path(path)
    while not target.is_dir():
        target = target.parent
    if str(target) in _REFUSED:
        raise ValueError(f"cannot contain {path}: the nearest existing directory is {target}; make {path} first")
    return str(target)


class PrivateMounts:
    """A mount namespace whose `paths` are private overlays; `stop()` ends it."""

    def __init__(self, paths: Iterable[str], staging: Path) -> None:
        self.paths = tuple(paths)
        self.covers = sorted({cover(p) for p in self.paths})
        staging.mkdir(parents=True, exist_ok=True)
        self.staging = staging
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "slave", sys.executable, "-c", _HOLDER, str(staging), *self.covers],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = self.holder.stdout.readline()  # type: ignore[union-attr]  # stdout=PIPE: never None
        if ready.strip() != "ready":
            self.holder.kill()
            _, err = self.holder.communicate()
            raise RuntimeError(f"private mounts for {list(self.paths)}: {err.strip() or 'holder died'}")

    @property
    def namespace(self) -> str:
        """The mount namespace's path, for `nsenter --mount=`."""
        return f"/proc/{self.holder.pid}/ns/mnt"

    def nsenter_args(self) -> list[str]:
        """Into the mount namespace, with the holder's root and the caller's working directory.

        Entering a mount namespace sets the root to the namespace's own: under a runtime that
        runs chrooted (the VM's /init chroots into the host's filesystem) that root is not the
        one the plugin's path lives in, so the holder's root is entered too."""
        return [f"--mount={self.namespace}", f"--root=/proc/{self.holder.pid}/root", f"--wd={os.getcwd()}"]

    def leftovers(self) -> list[str]:
        """Files written under the covered directories (paths as plugins saw them), less host-local's
        bookkeeping (`lock`, `last_reserved_ip.*`) and empty `*.lock` files (an flock's file holds
        nothing; removing it races the next locker, so plugins keep it); a host file a plugin removed
        shows as `(removed)`."""
        found = []
        root = f"/proc/{self.holder.pid}/root{self.staging}"
        for i, target in enumerate(self.covers):
            upper = Path(root, str(i), "upper")
            for path in upper.rglob("*"):
                info = path.lstat()  # a symlink left is a file left, wherever it points
                if stat.S_ISDIR(info.st_mode) or path.name.startswith(IPAM_BOOKKEEPING) or _empty_lock(path, info):
                    continue
                shown = os.path.join(target, str(path.relative_to(upper)))
                whiteout = stat.S_ISCHR(info.st_mode) and info.st_rdev == 0  # overlayfs's mark of a removed file
                found.append(f"{shown} (removed)" if whiteout else shown)
        return sorted(found)

    def stop(self) -> None:
        """End the holder: the namespace and its tmpfs go with it."""
        if self.holder.poll() is None:
            self.holder.send_signal(signal.SIGKILL)
        self.holder.communicate()


def _empty_lock(path: Path, info: os.stat_result) -> bool:
    return path.name.endswith(".lock") and stat.S_ISREG(info.st_mode) and info.st_size == 0
