"""A node-wide lock per network: an flock on /run/krafty/<network>.lock.

The only state krafty's attachments share is their network's VRF routing table, where
each pod has a /32 route. A static podIP is claimed there: checking that no other bridge
routes the address and adding the route must not interleave between two ADDs.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_DIR = "/run/krafty"


@contextmanager
def network_lock(network: str, directory: str = LOCK_DIR) -> Iterator[None]:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, f"{network}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock
