from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


def read(name: str) -> str:
    return (SQL / f"{name}.sql").read_text(encoding="utf-8")


class Migration(migrations.Migration):
    """A reservation counts while its holder is a rights holder of the work or of an ancestor: each work's lineage
    owners kept in licensing_work_facts, and the cover query and the `reserved` flag matched against them.
    Backwards: 0017's file again (the cover query; CREATE OR REPLACE throughout), then the refresh and the reserved
    works as 0012 and 0004 made them, and the column dropped (0018_reservation_lineage.reverse.sql)."""

    dependencies = [("licensing", "0017_cover_projectset")]

    operations = [
        migrations.RunSQL(
            read("0018_reservation_lineage"),
            reverse_sql=read("0017_cover_projectset") + "\n" + read("0018_reservation_lineage.reverse"),
        )
    ]
