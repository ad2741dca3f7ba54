from django.db import migrations

TASK = "licensing.requeue_stalled_usage_reports"
NAME = "Re-queue stalled usage reports"


def create(apps, schema_editor):
    """Every 10 minutes, editable (or disabled) in the admin: Periodic tasks."""
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(every=10, period="minutes")
    task_model.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "interval": every, "kwargs": '{"minutes": 15}', "enabled": True}
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0014_usage_report_failure"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
