from django.db import migrations

# Each role group and the role permission it grants (accounts.RoleAccess.Meta.permissions).
# Later migrations add the record and content permissions each role needs.
ROLE_GROUPS = {
    "Clinician": ("work_at_bay", "Can use the clinician pages at the bay"),
    "Supervisor": ("supervise", "Can use the supervisor pages"),
    "Content editor": ("edit_content", "Can edit checklist content in the admin"),
}


def create_role_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are normally created after all migrations; create them now so the groups
    # can hold them. The post-migrate step then finds them and adds nothing twice.
    content_type, _ = ContentType.objects.get_or_create(
        app_label="accounts", model="roleaccess"
    )
    for group_name, (codename, name) in ROLE_GROUPS.items():
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(permission)


def remove_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_role_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
