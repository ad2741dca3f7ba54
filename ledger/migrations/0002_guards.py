from django.db import migrations

from ledger.sql import run_sql_file


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [run_sql_file("0002_guards")]
