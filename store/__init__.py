"""Persistence: tables, migrations, repositories, the embedded PostgreSQL launcher, audit chain and outbox."""
