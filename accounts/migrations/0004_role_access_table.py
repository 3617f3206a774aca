from django.db import migrations


def create_table(apps, schema_editor):
    # The model was unmanaged: changing that in the state creates no table by itself.
    schema_editor.create_model(apps.get_model("accounts", "RoleAccess"))


def drop_table(apps, schema_editor):
    schema_editor.delete_model(apps.get_model("accounts", "RoleAccess"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_pin"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="roleaccess",
            options={
                "default_permissions": (),
                "permissions": (
                    ("work_at_bay", "Can use the clinician pages at the bay"),
                    ("supervise", "Can use the supervisor pages"),
                    ("edit_content", "Can edit checklist content in the admin"),
                ),
            },
        ),
        migrations.RunPython(create_table, drop_table),
    ]
