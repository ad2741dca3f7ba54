"""Versioned SQL for the ledger's database-level invariants, loaded by migrations."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent


def run_sql_file(name: str) -> migrations.RunSQL:
    forward = SQL_DIR / f"{name}.sql"
    reverse = SQL_DIR / f"{name}.reverse.sql"
    return migrations.RunSQL(
        forward.read_text(encoding="utf-8"),
        reverse_sql=reverse.read_text(encoding="utf-8") if reverse.exists() else None,
    )
