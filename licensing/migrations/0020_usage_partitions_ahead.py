from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"
TASK = "licensing.make_usage_partitions"
NAME = "Make the coming months' usage partitions"


def read(name: str) -> str:
    return (SQL / f"{name}.sql").read_text(encoding="utf-8")


def schedule(apps, schema_editor):
    """Daily at 00:05 Asia/Tokyo, editable (or disabled) in the admin: Periodic tasks."""
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = crontab_model.objects.get_or_create(
        minute="5", hour="0", day_of_month="*", month_of_year="*", day_of_week="*", timezone="Asia/Tokyo"
    )
    task_model.objects.get_or_create(name=NAME, defaults={"task": TASK, "crontab": daily, "enabled": True})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


# this month's partition and the next two, made now (then by the schedule, ahead of the reports)
AHEAD = """
SELECT licensing_usage_partition((date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') + m * interval '1 month')::date)
  FROM generate_series(0, 2) m
"""


class Migration(migrations.Migration):
    """Usage partitions attached rather than created in place (licensing/sql/0020_usage_partition_attach.sql), and
    made ahead of the months that need them, by a scheduled task."""

    dependencies = [
        ("licensing", "0019_periods_final_in_order"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunSQL(read("0020_usage_partition_attach"), reverse_sql=read("0020_usage_partition_attach.reverse")),
        migrations.RunSQL(AHEAD, reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(schedule, unschedule),
    ]
