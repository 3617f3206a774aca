"""Placeholder: filled in by the numbers work of #11."""

urlpatterns = []
