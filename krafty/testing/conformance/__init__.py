"""The CNI conformance suite: point it at a plugin's network config, get the spec's verdict rule by rule.

`pytest --cni-conformance=CONFIG` or `python -m krafty.testing.conformance CONFIG`; in code,
`judge_all(Subject(config, cni_path))`. Rules live in `protocol`, `lifecycle`, `delegation` and
`concurrency`, registered in `rules.RULES` under stable ids; docs/conformance.md lists them.
"""

import importlib
from typing import Any

_HOME = {
    "Case": "case",
    "Subject": "case",
    "RULES": "rules",
    "Broken": "rules",
    "NotApplicable": "rules",
    "Rule": "rules",
    "Unchecked": "rules",
    "all_rules": "rules",
    "Verdict": "runner",
    "judge": "runner",
    "judge_all": "runner",
}

__all__ = [
    "RULES",
    "Broken",
    "Case",
    "NotApplicable",
    "Rule",
    "Subject",
    "Unchecked",
    "Verdict",
    "all_rules",
    "judge",
    "judge_all",
]


def __getattr__(name: str) -> Any:
    """Loaded on first use (PEP 562): importing the package, as the pytest plugin does for its
    options, costs nothing; the rules are all registered before any of these is handed out."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from krafty.testing.conformance.rules import load_rules

    load_rules()
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
