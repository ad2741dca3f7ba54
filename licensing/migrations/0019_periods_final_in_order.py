from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


def read(name: str) -> str:
    return (SQL / f"{name}.sql").read_text(encoding="utf-8")


class Migration(migrations.Migration):
    """Months become final in order, guarded by PostgreSQL (licensing/sql/0019_periods_final_in_order.sql)."""

    dependencies = [("licensing", "0018_reservation_lineage")]

    operations = [
        migrations.RunSQL(read("0019_periods_final_in_order"), reverse_sql=read("0019_periods_final_in_order.reverse"))
    ]
