"""Adapters: the real and fake implementations of the core's ports, and the process's plumbing."""
