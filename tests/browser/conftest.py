"""Real Chromium (Debian's, via Playwright's executable_path) against live_server at tablet sizes.

Every page a test opens is watched: a console error or a CSP violation fails the test.
"""

import os
import shutil
import warnings

import pytest
from axe_playwright_python.sync_playwright import Axe

CHROMIUM = os.environ.get("IOACCESS_CHROMIUM", "/usr/bin/chromium")
TABLET_PORTRAIT = {"width": 820, "height": 1180}
TABLET_LANDSCAPE = {"width": 1180, "height": 820}
WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"]}
}

# Playwright's init script runs before the page's own scripts, whatever the page's CSP says.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "tests/browser/" in str(item.fspath)]
    if not browser_items or (shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)):
        return
    message = (
        f"Chromium not found at {CHROMIUM}: the browser tests did NOT run. "
        "Install it with: apt-get install -y chromium"
    )
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true: {message}")
    warnings.warn(message, stacklevel=1)
    config.issue_config_time_warning(pytest.PytestWarning(message), stacklevel=1)
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=message))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": TABLET_PORTRAIT, "has_touch": True}


class PageProblems:
    """Console errors, CSP violations and uncaught exceptions seen on a page."""

    def __init__(self):
        self.errors = []
        self.expected = []

    def expect(self, *fragments):
        """Console errors a test provokes on purpose (e.g. a dropped connection)."""
        self.expected.extend(fragments)

    def unexpected(self):
        return [e for e in self.errors if not any(f in e for f in self.expected)]

    def watch(self, page):
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.on(
            "console",
            lambda msg: (
                msg.type == "error" and self.errors.append(f"console: {msg.text}")
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        return page


@pytest.fixture
def page_problems():
    return PageProblems()


@pytest.fixture
def page(page, page_problems):
    """pytest-playwright's page, failing the test on any console error or CSP violation."""
    page_problems.watch(page)
    yield page
    unexpected = page_problems.unexpected()
    assert unexpected == [], "\n".join(unexpected)


@pytest.fixture
def watched(page):
    """Watch another page (a second browser context) the same way."""
    seen = []

    def watch(other):
        problems = PageProblems()
        problems.watch(other)
        seen.append(problems)
        return other

    yield watch
    errors = [error for problems in seen for error in problems.errors]
    assert errors == [], "\n".join(errors)


@pytest.fixture
def assert_accessible():
    axe = Axe()

    def check(page):
        result = axe.run(page, options=WCAG)
        assert result.violations_count == 0, result.generate_report()

    return check


@pytest.fixture
def log_in(live_server):
    """Log in through the real login form."""

    def do(page, username, password):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()

    return do


@pytest.fixture
def signed_in_context(browser, live_server, browser_context_args):
    """A new browser context (another tablet) logged in as `user` through a session cookie."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def open_for(user):
        client = Client()
        client.force_login(user)
        context = browser.new_context(**browser_context_args)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        return context

    yield open_for
    for context in contexts:
        context.close()
