from django.urls import path

from attempts import views

app_name = "attempts"

urlpatterns = [
    path("", views.home, name="home"),
]
