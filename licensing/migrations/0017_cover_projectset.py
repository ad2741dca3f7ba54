from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    """Works' covers with their ancestors and owners unnested in the select list. Backwards: 0013's functions again
    (its file is CREATE OR REPLACE throughout, so running it again puts back exactly what 0013 made)."""

    dependencies = [("licensing", "0016_usage_report_adjusted_in")]

    operations = [
        migrations.RunSQL(
            (SQL / "0017_cover_projectset.sql").read_text(encoding="utf-8"),
            reverse_sql=(SQL / "0013_coverage_pieces.sql").read_text(encoding="utf-8"),
        )
    ]
