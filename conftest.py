"""Test layers: tests/unit → `unit`, tests/netns → `netns`, tests/e2e → `e2e`.

`pytest -m <layer>` selects exactly one layer. Everything else (namespaces, the runtime,
the VM for kernels without VRF) comes from krafty's pytest plugin, `krafty.testing`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parent
LAYERS = ("unit", "netns", "e2e")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(item.path).relative_to(ROOT).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in LAYERS:
            item.add_marker(getattr(pytest.mark, parts[1]))
