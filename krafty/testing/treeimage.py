"""Directory trees as cached ext2 images, for the VM to read from a disk instead of over 9p.

Under TCG every 9p request is slow, and a Python process makes one for each file it opens:
importing krafty's plugin in the VM took 2.2-3.1 s with the interpreter and the venv read
over 9p, 1.1-1.3 s with them on a tmpfs. Copying the trees into the VM at each boot costs
more than it saves (the venv is hundreds of MiB), so they are handed over as read-only disk
images that the guest reads on demand. An image is rebuilt only when a file of its tree
changed (path, size or mtime): `mke2fs -d` takes seconds here for a venv.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

_BLOCK = 4096


def python_trees() -> list[Path]:
    """What every Python process in the VM reads: the interpreter's standard library and, when
    this is a virtual environment, the environment."""
    trees = [Path(sysconfig.get_paths()["stdlib"]).resolve()]
    if sys.prefix != sys.base_prefix:
        trees.append(Path(sys.prefix).resolve())
    return trees


def _survey(tree: Path) -> tuple[str, int, int]:
    """The tree's digest (every entry's path, size and mtime), its bytes in blocks, and its entries."""
    digest = hashlib.sha256()
    blocks = entries = 0
    for directory, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files) + dirs:
            info = os.lstat(os.path.join(directory, name))
            digest.update(f"{directory}/{name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
            blocks += -(-info.st_size // _BLOCK)
            entries += 1
    return digest.hexdigest(), blocks, entries


def tree_image(tree: Path, cache_dir: Path) -> Path:
    """An ext2 image of `tree` (in cache_dir), made now unless the cached one is of the same files.
    The caller holds the cache's lock."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    image = cache_dir / f"tree-{hashlib.sha256(str(tree).encode()).hexdigest()[:12]}.ext2"
    stamp = image.with_suffix(".stamp")
    digest, blocks, entries = _survey(tree)
    if image.exists() and stamp.exists() and stamp.read_text() == digest:
        return image
    partial = image.with_suffix(".partial")
    size = (blocks + entries // 8 + 4096) * _BLOCK  # data, directories and metadata, and room for ext2's own
    made = subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext2", "-m", "0", "-b", str(_BLOCK), "-N", str(entries + 1024), "-d", str(tree),
         str(partial), str(size // 1024) + "k"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if made.returncode:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"mke2fs -d {tree}: {made.stderr.strip()}")
    partial.rename(image)
    stamp.write_text(digest)
    return image
