"""Demo locations for local development: the demo clinician and supervisor work at all of them."""

from accounts.demo import demo_data
from attempts.models import Location

DEMO_LOCATIONS = ("Resus 1", "Resus 2", "Emergency department")


@demo_data
def create_demo_locations(users):
    for name in DEMO_LOCATIONS:
        location, _ = Location.objects.get_or_create(
            name=name,
            defaults={
                "notify_email": f"{name.lower().replace(' ', '-')}@hospital.example"
            },
        )
        location.staff.add(
            *[users[u] for u in ("clinician", "supervisor") if u in users]
        )
