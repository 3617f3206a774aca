from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/pin/", views.pin_set, name="pin"),
    path("accounts/pin-login/", views.pin_login, name="pin-login"),
    path("accounts/switch-user/", views.switch_user, name="switch-user"),
    path("accounts/locked/", views.locked, name="locked"),
    path("accounts/still-here/", views.still_here, name="still-here"),
]
