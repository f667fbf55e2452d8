"""pod-meta-exporter: keeps Fluent Bit's kubernetes metadata preload directory exact."""

__version__ = "0.1.0"
