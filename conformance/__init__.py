"""mailspec: conformance and interoperability tests for mail protocols."""

__version__ = "0.1.0"
