"""The application service: drives the core with the ports, and runs it as a process."""
