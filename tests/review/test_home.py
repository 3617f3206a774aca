"""The supervisor's home."""

import re

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_supervisor_home_title_is_plain_text(client, supervisor):
    client.force_login(supervisor)
    response = client.get(reverse("review:home"))
    title = re.search(r"<title>(.*?)</title>", response.text, re.DOTALL).group(1)
    assert "<" not in title
    assert title.startswith("Review")
