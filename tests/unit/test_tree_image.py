"""krafty.testing.treeimage: a directory tree as an ext2 image, read back with e2fsprogs' debugfs
(no mount, no root), made again only when a file of the tree changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from krafty.testing.treeimage import python_trees, tree_image


def debugfs(image: Path, request: str) -> str:
    done = subprocess.run(["debugfs", "-R", request, str(image)], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "venv"
    (root / "lib" / "site").mkdir(parents=True)
    (root / "lib" / "site" / "mod.py").write_text("VALUE = 1\n")
    (root / "bin").mkdir()
    (root / "bin" / "python").symlink_to("/usr/bin/python3")
    (root / "big").write_bytes(os.urandom(3 * 1024 * 1024))
    return root


def test_the_image_holds_the_trees_files_links_and_modes(tree: Path, tmp_path: Path):
    (tree / "lib" / "site" / "mod.py").chmod(0o640)
    image = tree_image(tree, tmp_path / "cache")
    assert debugfs(image, "cat /lib/site/mod.py") == "VALUE = 1\n"
    assert 'Fast link dest: "/usr/bin/python3"' in debugfs(image, "stat /bin/python")
    assert "Mode:  0640" in debugfs(image, "stat /lib/site/mod.py")
    dumped = tmp_path / "big.out"
    subprocess.run(["debugfs", "-R", f"dump /big {dumped}", str(image)], capture_output=True, check=True)
    assert dumped.read_bytes() == (tree / "big").read_bytes()


def test_an_unchanged_tree_reuses_its_image_and_a_changed_one_gets_a_new_one(tree: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    image = tree_image(tree, cache)
    made = image.stat().st_mtime_ns
    assert tree_image(tree, cache) == image and image.stat().st_mtime_ns == made, "made again for nothing"
    (tree / "lib" / "site" / "mod.py").write_text("VALUE = 22\n")  # another size
    assert debugfs(tree_image(tree, cache), "cat /lib/site/mod.py") == "VALUE = 22\n"
    (tree / "lib" / "site" / "new.py").write_text("")
    assert "new.py" in debugfs(tree_image(tree, cache), "ls /lib/site")


def test_an_image_has_room_for_every_file_of_the_tree(tmp_path: Path):
    """Sized from the tree: 40 MiB of data, more than the slack for ext2's own blocks, then a small file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a-big").write_bytes(os.urandom(40 * 1024 * 1024))
    (tree / "z-small").write_text("last\n")
    image = tree_image(tree, tmp_path / "cache")
    assert debugfs(image, "cat /z-small") == "last\n"
    assert "Size: 41943040" in debugfs(image, "stat /a-big")


def test_an_image_has_an_inode_for_every_entry_of_the_tree(tmp_path: Path):
    """More entries than the 1024 spare inodes: each counts."""
    tree = tmp_path / "tree"
    (tree / "many").mkdir(parents=True)
    for i in range(1500):
        (tree / "many" / f"m{i:04}.py").touch()
    image = tree_image(tree, tmp_path / "xdg" / "krafty" / "vm")  # a cache not made yet, parents neither
    assert "m1499.py" in debugfs(image, "ls /many")


def test_each_tree_has_its_own_image(tree: Path, tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "only-here").write_text("x")
    cache = tmp_path / "cache"
    assert tree_image(tree, cache) != tree_image(other, cache)
    assert debugfs(tree_image(tree, cache), "cat /lib/site/mod.py") == "VALUE = 1\n"


@pytest.mark.parametrize(
    "standin",
    [
        'eval "image=\\${$(($# - 1))}"\n: > "$image"\necho "mke2fs: no space" >&2\nexit 1\n',  # the image begun
        'echo "mke2fs: no space" >&2\nexit 1\n',  # nothing written yet
    ],
    ids=["begun", "not-begun"],
)
def test_an_image_that_cannot_be_made_says_why_and_leaves_nothing(
    tree: Path, tmp_path: Path, monkeypatch, standin: str
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mke2fs").write_text("#!/bin/sh\n" + standin)
    (bin_dir / "mke2fs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match=f"^mke2fs -d {tree}: mke2fs: no space$"):
        tree_image(tree, cache)
    assert list(cache.iterdir()) == []


def test_the_python_trees_are_the_standard_library_and_this_virtual_environment():
    stdlib = Path(os.__file__).resolve().parent  # os.py is the standard library's
    venv = Path(sys.executable).parent.parent  # a venv's bin/python, beside its pyvenv.cfg
    expected = [stdlib, venv.resolve()] if (venv / "pyvenv.cfg").exists() else [stdlib]
    assert python_trees() == expected
