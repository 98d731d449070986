"""The `krafty` executable.

VERSION is answered before anything else is imported: runtimes call it on every
network's plugins for many commands, so it should cost no more than starting Python. Its
answer carries the cniVersion of its stdin (SPEC.md, "VERSION Success"), read by hand.
"""

import os
import sys

from krafty.versions import SUPPORTED_VERSIONS, asked_version


def main() -> None:
    command = os.environ.get("CNI_COMMAND")
    if command == "VERSION":
        versions = ", ".join(f'"{version}"' for version in SUPPORTED_VERSIONS)
        asked = asked_version(sys.stdin.buffer.read())
        sys.stdout.write(f'{{"cniVersion": "{asked}", "supportedVersions": [{versions}]}}')
        return
    if command is None and len(sys.argv) > 1:
        from krafty import cli

        sys.exit(cli.main(sys.argv[1:]))
    from krafty import skel

    sys.exit(skel.run(os.environ, sys.stdin.buffer, sys.stdout))
