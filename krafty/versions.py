"""The CNI versions krafty speaks; a leaf module so the executable can answer VERSION alone."""

SPEC_VERSION = "1.1.0"
SUPPORTED_VERSIONS = ("0.3.1", "0.4.0", "1.0.0", "1.1.0")
