from django.db import migrations


def forwards(apps, schema_editor):
    from licensing.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    """Finance keeps the tax rules; staff read them."""

    dependencies = [("payouts", "0002_tax_rules"), ("licensing", "0015_requeue_stalled_schedule")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
