"""The use cases: what a request or a command asks the service to do, each in one place.

A use case takes plain values (the caller, the day, the calendar, an open connection) and returns rows or
outcomes; it checks what the regulations and the policy require, writes through the repositories in store/,
records the outbox events and recomputes what the write changed. It never opens, commits or rolls back a
transaction: the request boundary (api/) or the command (api/cli.py) does, together with the audit entry. The
exceptions commit themselves, since no one transaction could hold them: the bulk import (services/imports.py)
commits a file of millions of rows chunk by chunk, so that a failure loses one chunk and a re-run resumes after
the last one committed, the yearly evaluation (services/grading.py) commits every subject batch by batch, and
sealing the audit log by hand (services/audit.py) holds the sealer lock across the short transactions of a pass.
Resolvers in schema/ and the CLI commands are adapters around these functions.
"""
