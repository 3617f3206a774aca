from django.urls import path

from review import exports, numbers, views

app_name = "review"

urlpatterns = [
    path("", views.attempt_list, name="home"),
    path("attempts/<uuid:public_id>/", views.timeline, name="timeline"),
    path("attempts/<uuid:public_id>/sign-off/", views.sign_off, name="sign-off"),
    path("audit/", views.audit, name="audit"),
    *exports.urlpatterns,
    *numbers.urlpatterns,
]
