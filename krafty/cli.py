"""Node-side commands for people iterating on the plugin: inspect, gc, demo.

They are reached only when CNI_COMMAND is unset and a subcommand is given, so a runtime's
call can never land here.
"""

from __future__ import annotations

import argparse
import json
import sys

from krafty import demo, inventory


def _inventory_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipam-dir", default=inventory.HOST_LOCAL_DIR, help="host-local's dataDir")
    parser.add_argument(
        "--network", action="append", default=[], help="also look for host-local allocations of this network"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="krafty", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="list krafty's devices and allocations on this node, flag orphans")
    _inventory_args(inspect)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    gc = commands.add_parser("gc", help="remove the orphans that inspect flags")
    _inventory_args(gc)
    gc.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    demo_command = commands.add_parser("demo", help="attach throwaway pods on a throwaway node and prove connectivity")
    demo_command.add_argument("--pods", type=int, default=3, choices=range(1, 21), metavar="1-20")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo.run(args.pods)
    attachments = inventory.collect(args.ipam_dir, set(args.network))
    if args.command == "inspect":
        if args.json:
            json.dump([a.to_json() for a in attachments], sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(inventory.render(attachments))
        return 0
    removed = inventory.remove_orphans(attachments, args.ipam_dir, args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for item in removed:
        print(f"{verb} {item}")
    if not removed:
        print("no orphans")
    return 0
