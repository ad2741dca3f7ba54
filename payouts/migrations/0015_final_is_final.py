from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Final statements, invoices and their lines never change: PostgreSQL refuses it
    (payouts/sql/0015_final_is_final.sql)."""

    dependencies = [
        ("payouts", "0014_run_parts"),
    ]

    operations = [
        run_sql_file(SQL, "0015_final_is_final"),
    ]
