from django.db import migrations


def forwards(apps, schema_editor):
    from licensing.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    """Staff manage rights holders' logins; rights holders' users no longer delete works or shares."""

    dependencies = [("licensing", "0007_holder_ancestors")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
