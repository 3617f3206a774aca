import uuid

from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.html import format_html

register = template.Library()

WHY_TEMPLATE = "includes/why.html"
CSRF_FIELD = "bay.csrf_field"


@register.simple_tag
def client_token():
    """A fresh token for one recording form: a double tap or a retry sends the same one."""
    return str(uuid.uuid4())


@register.simple_tag(takes_context=True)
def tap_fields(context):
    """Every recording form's hidden fields: CSRF, a fresh client_token (a retry sends the same
    one), and on an attempt's forms who the card was drawn for (a tap kept through a lock and
    sent after a hand-over is refused, 409) and the revision of the card (a tap from an
    out-of-date card is refused, 409). A tag, not an include: a card has up to seventeen
    forms."""
    # The CSRF field is the same in every form of a card: drawn once per card.
    csrf_field = context.render_context.get(CSRF_FIELD)
    if csrf_field is None:
        csrf_field = context.render_context[CSRF_FIELD] = CsrfTokenNode().render(
            context
        )
    attempt = context.get("attempt")
    if attempt is None:
        return format_html(
            '{}<input type="hidden" name="client_token" value="{}">',
            csrf_field,
            client_token(),
        )
    return format_html(
        '{}<input type="hidden" name="client_token" value="{}">'
        '<input type="hidden" name="drawn_for" value="{}">'
        '<input type="hidden" name="revision" value="{}">',
        csrf_field,
        client_token(),
        context["request"].user.pk,
        attempt.revision,
    )


@register.simple_tag(takes_context=True)
def why(context, content, item, template_name=WHY_TEMPLATE, **values):
    """`item`'s "Why / source" block (or another block drawn from the item alone), drawn once
    per item and kept in `content.blocks`.

    Those are the blocks of the item's own version (`attempts.stages.StageContent`): a published
    version's, kept for the process with its items, which never change; a draft's, new at every
    read. The block sees only the item, `values` and the reference page's address, never the
    request, the user or the attempt: `template_name` is rendered on its own, escaped by the
    template as usual.
    """
    base = context.get("reference_url", "")
    key = (
        template_name,
        item._meta.label,
        item.pk,
        base,
        tuple(sorted(values.items())),
    )
    return _kept(
        content,
        key,
        lambda: context.template.engine.get_template(template_name).render(
            template.Context(
                {"item": item, "reference_url": base, **values},
                autoescape=context.autoescape,
            )
        ),
    )


@register.simple_tag(takes_context=True)
def drawn_once(context, content, template_name, *key):
    """`template_name` drawn in this context once per version and `key`, kept in
    `content.blocks` like `why`'s blocks (a published version's for the process, a draft's for
    the request).

    Only for what the version's items and `key` alone decide, such as an unbound form of its
    needles: never the CSRF token, a client token, the attempt or any input.
    """
    return _kept(
        content,
        ("drawn", template_name, *key),
        lambda: context.template.engine.get_template(template_name).render(context),
    )


def _kept(content, key, draw):
    """`content.blocks[key]`, drawn by `draw()` the first time it is asked for."""
    html = content.blocks.get(key)
    if html is None:
        html = content.blocks[key] = draw()
    return html


@register.filter
def duration(value):
    """A timedelta as "1 h 05 min" (or "4 min"); negative values as their magnitude."""
    if value is None:
        return ""
    seconds = abs(int(value.total_seconds()))
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
