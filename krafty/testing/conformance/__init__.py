"""The CNI conformance suite: point it at a plugin's network config, get the spec's verdict rule by rule.

`pytest --cni-conformance=CONFIG` or `python -m krafty.testing.conformance CONFIG`; in code,
`judge_all(Subject(config, cni_path))`. Rules live in `protocol`, `lifecycle`, `delegation` and
`concurrency`, registered in `rules.RULES` under stable ids; docs/conformance.md lists them.
"""

# The rule modules register their rules on import, in the order the reports list them.
from krafty.testing.conformance import protocol  # noqa: F401, I001
from krafty.testing.conformance import lifecycle  # noqa: F401
from krafty.testing.conformance import delegation  # noqa: F401
from krafty.testing.conformance import concurrency  # noqa: F401
from krafty.testing.conformance.case import Case, Subject
from krafty.testing.conformance.rules import RULES, Broken, NotApplicable, Rule, Unchecked, all_rules
from krafty.testing.conformance.runner import Verdict, judge, judge_all

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
