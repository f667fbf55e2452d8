"""pod-meta-exporter: keeps Fluent Bit's kubernetes metadata preload directory exact."""
