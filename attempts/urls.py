from django.urls import path

from attempts import tablet_views, views

app_name = "attempts"

urlpatterns = [
    path("", views.home, name="home"),
    path("tablet/", tablet_views.tablet_place, name="tablet"),
    path("needles/", views.board, name="board"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("needles/banner/", views.removal_banner, name="removal-banner"),
    path("attempts/new/", views.start, name="attempt-start"),
    path("attempts/<uuid:public_id>/", views.attempt_detail, name="attempt-detail"),
    path(
        "attempts/<uuid:public_id>/taps/<slug:action>/",
        views.attempt_record,
        name="attempt-record",
    ),
    path(
        "attempts/<uuid:public_id>/offline-cards/",
        views.offline_cards,
        name="attempt-offline-cards",
    ),
    path("attempts/<uuid:public_id>/next/", views.next_attempt, name="attempt-next"),
    path(
        "attempts/<uuid:public_id>/summary/",
        views.attempt_summary,
        name="attempt-summary",
    ),
    path(
        "attempts/<uuid:public_id>/removal/",
        views.record_removal,
        name="attempt-removal",
    ),
    path(
        "attempts/<uuid:public_id>/transfer/", views.transfer, name="attempt-transfer"
    ),
    path("attempts/<uuid:public_id>/label/", views.label, name="attempt-label"),
]
