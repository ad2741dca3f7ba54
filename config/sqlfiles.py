"""Raw SQL lives in versioned `.sql` files beside each app's migrations; migrations load them with this."""

from pathlib import Path

from django.db import migrations


def run_sql_file(sql_dir: Path | str, name: str) -> migrations.RunSQL:
    """`<name>.sql` forward, `<name>.reverse.sql` (when present) backward."""
    sql_dir = Path(sql_dir)
    forward = sql_dir / f"{name}.sql"
    reverse = sql_dir / f"{name}.reverse.sql"
    return migrations.RunSQL(
        forward.read_text(encoding="utf-8"),
        reverse_sql=reverse.read_text(encoding="utf-8") if reverse.exists() else None,
    )
