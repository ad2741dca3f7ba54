"""Versioned SQL for the ledger's database-level invariants, loaded by migrations."""
