"""lbconformance: conformance and validation suite for the portable load balancer architecture."""

__version__ = "0.1.0"
