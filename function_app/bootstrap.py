"""Composition root: settings -> adapters -> services, built once, on first use.

Entry points call `services()`; tests call `override_services(...)` to run the same entry
points over in-memory fakes. Nothing here runs at import time.
"""
