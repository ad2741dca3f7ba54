from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_leaner_indexes")]

    operations = [run_sql_file(SQL, "0004_no_truncate")]
