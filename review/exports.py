"""Placeholder: filled in by the exports work of #11."""

urlpatterns = []
