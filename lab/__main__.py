"""python -m lab up|deploy|require|down — what lab.mk runs; settings come from the environment."""

from __future__ import annotations

import argparse

from krafty.testing.kind.__main__ import run_verb
from krafty.testing.kind.settings import Settings
from lab.settings import lab_settings, nettools_image


def up(settings: Settings) -> None:
    from krafty.testing.kind import cluster
    from lab import nettools

    nettools.build(nettools_image())
    cluster.up(settings)


def deploy(settings: Settings) -> None:
    from krafty.testing.kind import cluster
    from lab import nettools

    nettools.deploy(cluster.attach(settings), settings)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__)
    parser.add_argument(
        "verb",
        choices=("up", "deploy", "require", "down"),
        help="up: create or converge the lab; deploy: the nettools workload; "
        "require: fail unless the lab is running; down: delete the lab",
    )
    run_verb(parser.parse_args().verb, lab_settings(), {"up": up, "deploy": deploy})


if __name__ == "__main__":
    main()
