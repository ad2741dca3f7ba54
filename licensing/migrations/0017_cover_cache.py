from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Covers kept across usage reports, valid while the coverage generation (raised by any change) is the same."""

    dependencies = [("licensing", "0016_usage_report_adjusted_in")]

    operations = [run_sql_file(SQL, "0017_cover_cache")]
