"""A tiny IPAM plugin for unit tests: real exec, fake allocator.

VERSION answers with the versions listed in `<this file>.versions` (default: 1.1.0), as
VERSION only gets {"cniVersion"} on stdin. The other verbs take their behaviour from the
`ipam` section: `ips` (the result's ips), `fail` (an error object to print), `exit` (exit
with that status, printing nothing), `garbage` (print non-JSON), and append
"COMMAND cniVersion containerID" to `<dataDir>/calls`.
"""

import json
import os
import sys
from pathlib import Path

conf = json.load(sys.stdin)
command = os.environ["CNI_COMMAND"]
if command == "VERSION":
    versions = Path(sys.argv[0] + ".versions")
    supported = versions.read_text().split() if versions.exists() else ["1.1.0"]
    print(json.dumps({"cniVersion": conf["cniVersion"], "supportedVersions": supported}))
    sys.exit(0)
ipam = conf["ipam"]
with open(os.path.join(ipam["dataDir"], "calls"), "a") as calls:
    calls.write(f"{command} {conf['cniVersion']} {os.environ.get('CNI_CONTAINERID', '')}\n")
if ipam.get("garbage"):
    print("this is not json")
elif ipam.get("exit"):
    sys.exit(ipam["exit"])
elif ipam.get("fail"):
    print(json.dumps({"cniVersion": conf["cniVersion"], **ipam["fail"]}))
    sys.exit(1)
elif command == "ADD":
    print(
        json.dumps(
            {
                "cniVersion": conf["cniVersion"],
                "ips": ipam.get("ips", [{"address": "172.16.10.10/24", "gateway": "172.16.10.1"}]),
                "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.96.0.0/12"}],
                "dns": {"nameservers": ["10.96.0.10"]},
            }
        )
    )
