"""Signals: what jobs send, recorded; and what is kept of it.

Owns recording a beat or ping (one short transaction), parsing their input, running a job's
command for `beat NAME -- COMMAND`, and retention. May import `reporting` (the pruned
counters), `domain` and the base.
"""
