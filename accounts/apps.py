from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        # The PIN's shift starts at each sign-in with the password (user_logged_in).
        from accounts import signals  # noqa: F401
