from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Effective ownership kept in a table by triggers, so a rights holder's works are an index range."""

    dependencies = [("licensing", "0010_usage_events")]

    operations = [run_sql_file(SQL, "0011_work_owners")]
