from django.db import migrations, models
from django.db.models import Count, Q

# The kinds that answered a card when this migration was written (attempts.flow.CARD_MOVES).
CARD_MOVE_KINDS = [
    "indication_confirmed",
    "site_chosen",
    "contraindications_screened",
    "needle_chosen",
    "stage_completed",
    "needle_in_bone",
    "placement_confirmed",
    "outcome_recorded",
]


def count_card_moves(apps, schema_editor):
    """Attempts recorded before revisions existed get the revision their events imply."""
    Attempt = apps.get_model("attempts", "Attempt")
    moved = Attempt.objects.annotate(
        moves=Count("events", filter=Q(events__kind__in=CARD_MOVE_KINDS))
    ).filter(moves__gt=0)
    for attempt in moved.only("pk").iterator():
        Attempt.objects.filter(pk=attempt.pk).update(revision=attempt.moves)


class Migration(migrations.Migration):
    dependencies = [
        ("attempts", "0001_attempt_records"),
    ]

    operations = [
        migrations.AddField(
            model_name="attempt",
            name="revision",
            field=models.PositiveIntegerField(
                default=0,
                editable=False,
                help_text="How many cards the attempt has moved through: a tap from a card drawn at an older revision is stale.",
            ),
        ),
        migrations.RunPython(count_card_moves, migrations.RunPython.noop),
    ]
