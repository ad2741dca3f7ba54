from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Coverage in two halves (per work, per use/date/territory) that a usage report computes once per value."""

    dependencies = [("licensing", "0012_coverage")]

    operations = [run_sql_file(SQL, "0013_coverage_pieces")]
