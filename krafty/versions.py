"""The CNI versions krafty speaks; a leaf module so the executable can answer VERSION alone."""

SPEC_VERSION = "1.1.0"
SUPPORTED_VERSIONS = ("0.3.1", "0.4.0", "1.0.0", "1.1.0")


def asked_version(stdin: bytes) -> str:
    """The cniVersion of VERSION's stdin (`{"cniVersion": "1.0.0"}`), without the json module;
    the newest version when there is none, or it is not digits and dots (echoed unescaped)."""
    text = stdin.decode(errors="replace")
    at = text.find('"cniVersion"')
    rest = text[at + len('"cniVersion"') :].lstrip() if at >= 0 else ""
    if not rest.startswith(":"):
        return SPEC_VERSION
    rest = rest[1:].lstrip()
    end = rest.find('"', 1)
    value = rest[1:end] if rest.startswith('"') and end > 0 else ""
    return value if value and all(c in "0123456789." for c in value) else SPEC_VERSION
