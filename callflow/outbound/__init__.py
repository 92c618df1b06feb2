"""Outbound campaigns without I/O: call lists, the do-not-call list and compliance rules.

Everything here reads and writes the store and decides; nothing dials (that is
:mod:`callflow.dialer`, which sits above the live runtime).
"""
