"""Which directory private mounts overlay for a path (no mount made: `cover` only reads the tree)."""

from __future__ import annotations

import uuid

import pytest

from krafty.testing.mounts import cover


def test_an_existing_directory_is_overlaid_itself(tmp_path):
    assert cover(str(tmp_path)) == str(tmp_path)


def test_a_missing_path_is_overlaid_at_its_nearest_existing_ancestor(tmp_path):
    assert cover(str(tmp_path / "not" / "yet")) == str(tmp_path)


def test_a_path_whose_nearest_existing_directory_is_the_root_is_refused():
    missing = f"/krafty-missing-{uuid.uuid4().hex[:8]}/x"
    with pytest.raises(
        ValueError, match=rf"cannot contain {missing}: the nearest existing directory is /; make {missing}"
    ):
        cover(missing)


@pytest.mark.parametrize("path", ["/proc/krafty-missing", "/sys/krafty-missing", "/dev/krafty-missing"])
def test_a_path_that_would_overlay_a_kernel_filesystem_is_refused(path):
    with pytest.raises(ValueError, match="cannot contain"):
        cover(path)
