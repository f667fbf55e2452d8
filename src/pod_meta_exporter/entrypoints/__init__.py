"""Entry points: the command line, the HTTP endpoints and the composition root."""
