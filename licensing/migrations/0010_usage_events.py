from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("licensing", "0009_usage")]

    operations = [run_sql_file(SQL, "0010_usage")]
