from django.contrib import admin
from django.urls import include, path

from ioaccess.health import healthz

urlpatterns = [
    path("", include("accounts.urls")),
    path("bay/", include("attempts.urls")),
    path("review/", include("review.urls")),
    path("", include("checklists.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
