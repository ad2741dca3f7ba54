from pathlib import Path

from django.db import migrations

from config.sqlfiles import run_sql_file

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0016_usage_report_adjusted_in"),
        ("payouts", "0008_advance_proxy"),
    ]

    operations = [
        # the table is kept by the SQL below from now on (partitioned by period, written by the engine)
        migrations.AlterModelOptions(
            name="statementline",
            options={
                "managed": False,
                "ordering": ["statement", "licensee", "work", "use", "basis"],
                "verbose_name": "statement line",
                "verbose_name_plural": "statement lines",
            },
        ),
        run_sql_file(SQL, "0009_lines_by_period"),
    ]
