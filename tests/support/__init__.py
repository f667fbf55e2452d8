"""What the test tiers and the benchmarks share: the control plane, one API client, the exporter as a
process, waiting, histograms, rendered manifests. Importable as `support` wherever the project is
installed for development (hatch's dev-mode-dirs puts tests/ on sys.path), never in the wheel."""
