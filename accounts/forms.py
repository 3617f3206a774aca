from django import forms
from django.contrib.auth import authenticate
from django.core.validators import RegexValidator
from django.utils import timezone

from accounts.models import PIN_PATTERN, Pin, pin_is_guessable

PIN_FORMAT_MESSAGE = "Your PIN must be 4 to 8 digits (0 to 9). Type it again."
GUESSABLE_PIN_MESSAGE = (
    "That PIN is too easy to guess (one digit or a few repeated, or digits in a row). "
    "Choose another."
)
WRONG_PIN_MESSAGE = (
    "Wrong username or PIN. If you have not signed in with your password this shift, "
    "sign in with your password."
)


def pin_field(label, help_text=""):
    # A PIN is digits typed on the tablet's numeric keypad, never shown on screen.
    return forms.CharField(
        label=label,
        help_text=help_text,
        max_length=8,
        strip=False,
        validators=[RegexValidator(PIN_PATTERN, PIN_FORMAT_MESSAGE)],
        error_messages={"required": "Type your PIN.", "max_length": PIN_FORMAT_MESSAGE},
        widget=forms.PasswordInput(
            attrs={"inputmode": "numeric", "autocomplete": "off"}
        ),
    )


def password_field(label="Password"):
    return forms.CharField(
        label=label,
        strip=False,
        error_messages={"required": "Type your password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PinSetForm(forms.Form):
    """Set or change one's PIN: the password first, then the PIN twice."""

    current_password = password_field("Your password")
    new_pin = pin_field(
        "New PIN (4 to 8 digits)",
        help_text="Not one digit or a few repeated, and not digits in a row.",
    )
    new_pin_again = pin_field("New PIN again")

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_current_password(self):
        password = self.cleaned_data["current_password"]
        # Through authenticate(), so a guessed password here is throttled like at login.
        user = authenticate(
            self.request, username=self.request.user.get_username(), password=password
        )
        if user is None or user.pk != self.request.user.pk:
            raise forms.ValidationError("That is not your password. Type it again.")
        return password

    def clean_new_pin(self):
        pin = self.cleaned_data["new_pin"]
        if pin_is_guessable(pin):
            raise forms.ValidationError(GUESSABLE_PIN_MESSAGE)
        return pin

    def clean(self):
        cleaned = super().clean()
        pin, again = cleaned.get("new_pin"), cleaned.get("new_pin_again")
        if pin and again and pin != again:
            self.add_error(
                "new_pin_again",
                "The two PINs are not the same. Type the same PIN twice.",
            )
        return cleaned

    def save(self):
        return Pin.set_for(
            user=self.request.user,
            raw_pin=self.cleaned_data["new_pin"],
            at=timezone.now(),
        )


class PinSignInForm(forms.Form):
    """The next clinician on a tablet at a bay: username and PIN."""

    username = forms.CharField(
        label="Username",
        max_length=150,
        error_messages={"required": "Type your username."},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    pin = pin_field("PIN")

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.user = authenticate(
            self.request, username=cleaned["username"], pin=cleaned["pin"]
        )
        if self.user is None:
            self.add_error("pin", WRONG_PIN_MESSAGE)
        return cleaned


class UnlockForm(forms.Form):
    """The locked session's own user, with their PIN (or their password when the PIN may not)."""

    def __init__(self, *args, request, use_pin, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.use_pin = use_pin
        # Named as at sign-in, so axes masks the value in its failure log.
        self.kind = "pin" if use_pin else "password"
        self.fields[self.kind] = pin_field("PIN") if use_pin else password_field()
        self.fields[self.kind].widget.attrs["autofocus"] = True
        self.user = None

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.user = authenticate(
            self.request,
            username=self.request.user.get_username(),
            **{self.kind: cleaned[self.kind]},
        )
        if self.user is None or self.user.pk != self.request.user.pk:
            self.user = None
            self.add_error(
                self.kind,
                f"Wrong {'PIN' if self.use_pin else 'password'}. Type it again.",
            )
        return cleaned
