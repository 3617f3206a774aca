from accounts.roles import roles_of


def roles(request):
    """The signed-in user's roles and the role of the current page, for the header."""
    return {
        "user_roles": roles_of(request.user) if hasattr(request, "user") else [],
        "current_role": getattr(request, "role", None),
    }
