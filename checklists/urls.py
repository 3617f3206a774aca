from django.urls import path

from checklists import views

app_name = "checklists"

urlpatterns = [
    path("content/", views.home, name="home"),
    path(
        "content/versions/<id:pk>/preview/",
        views.version_preview,
        name="version-preview",
    ),
    path("content/versions/<id:pk>/diff/", views.version_diff, name="version-diff"),
    path("reference/", views.reference, name="reference"),
]
