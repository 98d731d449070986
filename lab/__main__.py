"""python -m lab up|deploy|require|down — what lab.mk runs; settings come from the environment."""

from __future__ import annotations

import argparse
import shlex
import subprocess

from lab import tools
from lab.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument(
        "verb",
        choices=("up", "deploy", "require", "down"),
        help="up: create or converge the lab; deploy: the nettools workload; "
        "require: fail unless the lab is running; down: delete the lab",
    )
    verb = parser.parse_args().verb
    reason = tools.missing()
    if reason:
        raise SystemExit(reason)
    from lab import cluster  # needs the e2e extra, which tools.missing() has checked

    settings = Settings.from_env()
    try:
        if verb == "up":
            cluster.up(settings)
        elif verb == "deploy":
            cluster.deploy_nettools(cluster.attach(settings), settings)
        elif verb == "require":
            cluster.attach(settings)
        else:
            cluster.down(settings)
    except tools.LabError as err:
        raise SystemExit(f"lab {settings.name}: {err}") from None
    except subprocess.CalledProcessError as err:
        command = shlex.join(map(str, err.cmd))
        raise SystemExit(f"lab {settings.name}: `{command}` exited with {err.returncode}") from None


if __name__ == "__main__":
    main()
