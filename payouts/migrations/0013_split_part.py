from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """The largest-remainder split as SQL functions (payouts/sql/0013_split_part.sql), which the engine calls."""

    dependencies = [
        ("payouts", "0012_run_late_reports"),
    ]

    operations = [
        run_sql_file(SQL, "0013_split_part"),
    ]
