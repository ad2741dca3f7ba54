from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Works' covers with their ancestors and owners unnested in the select list."""

    dependencies = [("licensing", "0016_usage_report_adjusted_in")]

    operations = [run_sql_file(SQL, "0017_cover_projectset")]
