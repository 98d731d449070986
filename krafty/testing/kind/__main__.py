"""python -m krafty.testing.kind up|require|down — a lab for the plugin and NAD the
environment names (CNI_KIND_PLUGIN, CNI_KIND_NAD, CNI_KIND_IMAGES, CLUSTER_NAME, ...)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
from collections.abc import Callable, Mapping

from krafty.testing.kind import tools
from krafty.testing.kind.settings import Settings

Verb = Callable[[Settings], object]


def run_verb(verb: str, settings: Settings, extra: Mapping[str, Verb] | None = None) -> None:
    """One verb, its failure said in one line (no traceback): what `make` shows the user."""
    reason = tools.missing()
    if reason:
        raise SystemExit(reason)
    from krafty.testing.kind import cluster  # needs the e2e extra, which tools.missing() has checked

    verbs: dict[str, Verb] = {"up": cluster.up, "require": cluster.attach, "down": cluster.down, **(extra or {})}
    try:
        verbs[verb](settings)
    except tools.LabError as err:
        raise SystemExit(f"lab {settings.name}: {err}") from None
    except subprocess.CalledProcessError as err:
        command = shlex.join(map(str, err.cmd))
        raise SystemExit(f"lab {settings.name}: `{command}` exited with {err.returncode}") from None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m krafty.testing.kind", description=__doc__)
    parser.add_argument("verb", choices=("up", "require", "down"))
    run_verb(parser.parse_args().verb, Settings.from_env())


if __name__ == "__main__":
    main()
