from django.contrib import admin

from attempts.models import Location


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    """Locations are set up by IT; attempts and events are never edited in the admin."""

    list_display = ("name", "notify_email", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("staff",)
