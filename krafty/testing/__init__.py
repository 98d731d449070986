"""krafty.testing: pytest fixtures that test CNI plugins against the real kernel.

Installed with krafty and registered as the pytest plugin `krafty` (disable it with
`pytest -p no:krafty`). Fixtures: `cni_netns`, `cni_node`, `cni_runtime`,
`cni_assert_clean`, `cni_kill_at`, `cni_kind_lab`; marker `cni_kernel(*features)`.
"""

from krafty.testing.clean import CleanChecker, ipam_leftovers
from krafty.testing.kill import kill_at
from krafty.testing.netns import Link, Netns, NetnsError
from krafty.testing.runtime import (
    Attachment,
    CallOutput,
    CniCallError,
    CniExecError,
    CniRuntimeError,
    CniSpecViolation,
    CniTimeout,
    Runtime,
    as_list,
    check_answer,
    network_list,
    new_container_id,
    plugin_config,
)

__all__ = [
    "Attachment",
    "CallOutput",
    "CleanChecker",
    "CniCallError",
    "CniExecError",
    "CniRuntimeError",
    "CniSpecViolation",
    "CniTimeout",
    "Link",
    "Netns",
    "NetnsError",
    "Runtime",
    "as_list",
    "check_answer",
    "ipam_leftovers",
    "kill_at",
    "network_list",
    "new_container_id",
    "plugin_config",
]
