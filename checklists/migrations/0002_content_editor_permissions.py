from django.db import migrations

# What the Content editor group may do in the admin: content models only (never records, users).
EDITOR_PERMISSIONS = {
    "source": ("add", "change", "view"),
    "procedure": ("view",),
    "checklistversion": ("add", "change", "delete", "view", "publish"),
    "section": ("add", "change", "delete", "view"),
    "step": ("add", "change", "delete", "view"),
    "site": ("add", "change", "delete", "view"),
    "contraindication": ("add", "change", "delete", "view"),
    "needlesize": ("add", "change", "delete", "view"),
    "troubleshootingitem": ("add", "change", "delete", "view"),
}


PUBLISH_NAME = "Can approve and publish a checklist version"


def codenames():
    for model, actions in EDITOR_PERMISSIONS.items():
        for action in actions:
            yield model, f"{action}_{model}"


def permission_name(model, codename):
    if codename == "publish_checklistversion":
        return PUBLISH_NAME
    action = codename.split("_", 1)[0]
    return f"Can {action} {model}"


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="Content editor")
    # Permissions are normally created after all migrations; create them now (the post-migrate
    # step then finds them and adds nothing twice).
    for model, codename in codenames():
        content_type, _ = ContentType.objects.get_or_create(
            app_label="checklists", model=model
        )
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": permission_name(model, codename)},
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Content editor").first()
    if group:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="checklists",
                codename__in=[codename for _, codename in codenames()],
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("checklists", "0001_checklist_content"),
        ("accounts", "0002_role_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
