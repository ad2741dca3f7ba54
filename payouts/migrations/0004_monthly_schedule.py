from django.db import migrations

NAME = "Monthly statements (the previous month)"


def create(apps, schema_editor):
    """On the 1st at 03:00 Asia/Tokyo; editable (or disabled) in the admin: Periodic tasks."""
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = crontab_model.objects.get_or_create(
        minute="0", hour="3", day_of_month="1", month_of_year="*", day_of_week="*", timezone="Asia/Tokyo"
    )
    task_model.objects.get_or_create(name=NAME, defaults={"task": "payouts.monthly_statements", "crontab": schedule})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0003_role_permissions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
