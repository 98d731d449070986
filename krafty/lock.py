"""Node-wide locks: flocks on files under /run/krafty.

The network lock (<network>.lock): the only state krafty's attachments share is their
network's VRF routing table, where each pod has a /32 route. A static podIP is claimed
there: checking that no other bridge routes the address and adding the route must not
interleave between two ADDs.

The device lock (_devices.lock): creating a device and recording its owner in its alias
are two netlink requests. Every ADD picks its device names, creates and names its devices
under this lock, and every DEL deletes under it, so a process holding the lock never sees
a device that a live ADD has created but not yet named: an unnamed device in krafty's
group is then always what a killed ADD left, safe to reuse or delete. Without it, two ADDs
of one container (two interfaces, or two networks) would both take the first one's fresh
seed-named VRF as their own. The file name starts with "_", which no network name can, so
it never is a network's lock.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

LOCK_DIR = "/run/krafty"
DEVICE_LOCK = "_devices"


@contextmanager
def _flock(name: str, directory: str) -> Iterator[None]:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, f"{name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def network_lock(network: str, directory: str = LOCK_DIR) -> AbstractContextManager[None]:
    return _flock(network, directory)


def device_lock(directory: str = LOCK_DIR) -> AbstractContextManager[None]:
    return _flock(DEVICE_LOCK, directory)
