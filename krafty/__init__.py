"""krafty: a CNI plugin that gives each pod its own VRF and bridge on the node."""

__version__ = "0.1.0"
