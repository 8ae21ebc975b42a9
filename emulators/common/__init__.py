"""Pieces both emulators share: the TLS authority of a run, the HTTPS server, routing, faults."""
