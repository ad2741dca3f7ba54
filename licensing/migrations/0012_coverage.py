from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Coverage in linear time: hash joins and one GROUP BY instead of a subquery per usage combination."""

    dependencies = [("licensing", "0011_work_owners")]

    operations = [run_sql_file(SQL, "0012_coverage")]
