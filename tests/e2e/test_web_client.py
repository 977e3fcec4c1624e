"""The web client at `/` in a real browser: Playwright drives Debian's Chromium (headless) against
the app under uwsgi, and the API is checked behind the page's back over plain HTTP.

Every page is served with a strict same-origin Content-Security-Policy added to the document (no
inline scripts or styles), and a test fails if the browser reports a violation or an uncaught
error. The directory test saves docs/web-client.png, the README's screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, Response, expect, sync_playwright

from tests.e2e.helpers import API, bearer, login, register
from tests.servers import REPO_ROOT, LiveServer, on_ci
from tests.support import link_in

SCREENSHOT = REPO_ROOT / "docs" / "web-client.png"
TIMEOUT_MS = 20_000
SAME_ORIGIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PASSWORD = "password-123"
SEEDED_USERS = 45
PAGE_SIZE = 20

expect.set_options(timeout=TIMEOUT_MS)


# --- browser fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Debian's Chromium, as provisioned by `make test` (CHROMIUM_BIN); never `playwright install`."""
    binary = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium")
    if binary and os.access(binary, os.X_OK):
        return binary
    hint = (
        "Chromium is needed: run `make test` (scripts/provision_services.sh installs Debian's "
        "chromium), or `sudo apt-get install -y chromium`, or set CHROMIUM_BIN."
    )
    if on_ci():
        pytest.fail(f"CI=true and a test service is missing: {hint}", pytrace=False)
    pytest.skip(hint)


@pytest.fixture(scope="module")
def browser(chromium_bin: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_bin, headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


class Traffic:
    """The API calls a page made: requests (with their headers) and responses, in order."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.responses: list[Response] = []

    def calls(self) -> list[tuple[str, str, int]]:
        """(method, API path without the query, status) of every answered API call."""
        return [
            (r.request.method, r.url.split(API, 1)[1].split("?", 1)[0], r.status)
            for r in self.responses
            if API in r.url
        ]

    def sent(self, method: str, path_pattern: str) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method == method and API in r.url and re.search(path_pattern, r.url)
        ]


@pytest.fixture
def page_at(browser: Browser) -> Iterator[Callable[[LiveServer], tuple[Page, Traffic]]]:
    """`page_at(server) -> (page, traffic)`: a fresh browser context (empty sessionStorage) with
    the web client open, its document served under SAME_ORIGIN_CSP. After the test, no CSP
    violation and no uncaught error may have happened."""
    contexts = []
    problems: list[str] = []

    def open_page(server: LiveServer) -> tuple[Page, Traffic]:
        context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        traffic = Traffic()
        page.on("request", lambda request: traffic.requests.append(request))
        page.on("response", lambda response: traffic.responses.append(response))
        page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )

        def with_csp(route):
            response = route.fetch()
            headers = {**response.headers, "content-security-policy": SAME_ORIGIN_CSP}
            route.fulfill(response=response, headers=headers)

        page.route(f"{server.url}/", with_csp)
        page.goto(f"{server.url}/")
        return page, traffic

    yield open_page
    for context in contexts:
        context.close()
    assert problems == []


# --- page helpers -----------------------------------------------------------------------------


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Username or email").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="My todos")).to_be_visible()
    expect(page.locator("#todos-total")).not_to_be_empty()  # the first list has arrived


def message(page: Page):
    return page.get_by_role("status")


def stored_tokens(page: Page) -> dict[str, str | None]:
    return page.evaluate(
        "() => ({access: sessionStorage.getItem('access_token'),"
        " refresh: sessionStorage.getItem('refresh_token')})"
    )


def todo_row(page: Page, title: str):
    return page.get_by_role("listitem").filter(has=page.get_by_label(title, exact=True))


def directory_usernames(page: Page) -> list[str]:
    return page.locator("#directory-table tbody tr td:first-child").all_inner_texts()


def api_get(server: LiveServer, path: str, token: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{server.url}{API}{path}", params=params or None, headers=bearer(token), timeout=15
    )


# --- serving ----------------------------------------------------------------------------------


class AssetLinks(HTMLParser):
    """The `src` and `href` attributes of a page, and whether it has inline scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.links += [attributes[name] or "" for name in ("src", "href") if name in attributes]
        if tag == "style" or (tag == "script" and "src" not in attributes):
            self.inline.append(tag)
        self.inline += [name for name in attributes if name == "style" or name.startswith("on")]


def test_page_and_assets_are_served_with_their_exact_types(live_server, http):
    page = http.get(f"{live_server.url}/")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    parser = AssetLinks()
    parser.feed(page.text)
    assert parser.inline == []
    assets = [link for link in parser.links if link.startswith("/static/")]
    expected_types = {
        "/static/app.js": "text/javascript; charset=utf-8",
        "/static/app.css": "text/css; charset=utf-8",
        "/static/favicon.svg": "image/svg+xml; charset=utf-8",
    }
    assert sorted(assets) == sorted(expected_types)
    for path, content_type in expected_types.items():
        response = http.get(f"{live_server.url}{path}")
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    "path",
    ["/nope", "/todos", "/static/", "/static/nope.js", "/static/index.html"],
)
def test_unknown_paths_outside_the_api_stay_json_404s(live_server, http, path):
    response = http.get(f"{live_server.url}{path}")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


# --- accounts ---------------------------------------------------------------------------------


def test_sign_up_signs_in(live_server, page_at):
    page, traffic = page_at(live_server)
    form = page.get_by_role("form", name="Create an account")
    form.get_by_label("Username").fill("grace")
    form.get_by_label("Email").fill("grace@example.com")
    form.get_by_label("Name (optional)").fill("Grace Hopper")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()

    expect(message(page)).to_have_text("Welcome, grace.")
    expect(page.get_by_text("Signed in as grace (Grace Hopper)")).to_be_visible()
    assert ("POST", "/auth/register", 201) in traffic.calls()
    me = api_get(live_server, "/users/me", stored_tokens(page)["access"])
    assert me.json()["name"] == "Grace Hopper"


def test_sign_up_with_a_taken_username_says_so(live_server, http, page_at):
    register(http, live_server, "taken")
    page, _ = page_at(live_server)
    form = page.get_by_role("form", name="Create an account")
    form.get_by_label("Username").fill("taken")
    form.get_by_label("Email").fill("other@example.com")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(message(page)).to_contain_text("username is already taken")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()


def test_keyboard_only_sign_in_and_add_a_todo(live_server, http, page_at):
    register(http, live_server, "keys")
    page, _ = page_at(live_server)
    keyboard = page.keyboard

    def tab_to(locator) -> None:
        keyboard.press("Tab")
        expect(locator).to_be_focused()

    # Focus order from the top of the page: skip link, then the sign-in form, field by field.
    tab_to(page.get_by_role("link", name="Skip to content"))
    tab_to(page.get_by_role("textbox", name="Username or email"))
    keyboard.type("keys")
    tab_to(page.get_by_role("form", name="Sign in").get_by_label("Password"))
    keyboard.type(PASSWORD)
    keyboard.press("Enter")

    # Signed in, focus lands on the view's heading; the next stop is the new-todo field.
    expect(page.get_by_role("heading", name="My todos")).to_be_focused()
    tab_to(page.get_by_role("textbox", name="New todo"))
    keyboard.type("Typed without a mouse")
    keyboard.press("Enter")
    done = page.get_by_role("checkbox", name="Typed without a mouse")
    expect(done).to_be_visible()
    # From the emptied field: the Add button, then the new todo's checkbox.
    tab_to(page.get_by_role("button", name="Add"))
    tab_to(done)
    keyboard.press("Space")
    expect(done).to_be_checked()
    expect(message(page)).to_have_text("“Typed without a mouse” marked done.")


def test_sign_out_revokes_the_login(live_server, http, page_at):
    register(http, live_server, "leaver")
    page, traffic = page_at(live_server)
    sign_in(page, "leaver")
    tokens = stored_tokens(page)
    assert api_get(live_server, "/users/me", tokens["access"]).status_code == 200

    page.get_by_role("button", name="Sign out").click()

    expect(message(page)).to_have_text("You are signed out.")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    assert ("POST", "/auth/logout", 204) in traffic.calls()
    assert stored_tokens(page) == {"access": None, "refresh": None}
    old_access = api_get(live_server, "/users/me", tokens["access"])
    assert old_access.status_code == 401
    assert old_access.json()["error"]["code"] == "token_revoked"
    old_refresh = http.post(
        f"{live_server.url}{API}/auth/refresh", headers=bearer(tokens["refresh"])
    )
    assert old_refresh.status_code == 401


# --- todos ------------------------------------------------------------------------------------


def test_add_complete_rename_and_delete_a_todo_with_etags(live_server, http, page_at):
    register(http, live_server, "doer")
    page, traffic = page_at(live_server)
    sign_in(page, "doer")

    page.get_by_label("New todo").fill("Buy milk")
    page.get_by_role("button", name="Add").click()
    expect(message(page)).to_have_text("Added “Buy milk”.")
    expect(page.get_by_text("1 todo", exact=True)).to_be_visible()

    page.get_by_label("Buy milk", exact=True).check()
    expect(message(page)).to_have_text("“Buy milk” marked done.")
    token = stored_tokens(page)["access"]
    [todo] = api_get(live_server, "/todos", token).json()["items"]
    assert todo["done"] is True

    page.get_by_role("button", name="Edit “Buy milk”").click()
    editor = page.get_by_role("textbox", name="Title")
    expect(editor).to_be_focused()
    editor.fill("Buy oat milk")
    editor.press("Enter")
    expect(message(page)).to_have_text("Renamed to “Buy oat milk”.")
    expect(page.get_by_label("Buy oat milk", exact=True)).to_be_checked()

    page.get_by_role("button", name="Delete “Buy oat milk”").click()
    expect(message(page)).to_have_text("“Buy oat milk” deleted.")
    expect(page.get_by_role("listitem").filter(has_text="Buy oat milk")).to_have_count(0)
    assert api_get(live_server, "/todos", token).json()["items"] == []

    # Every write carried the ETag the previous response gave, as If-Match.
    writes = traffic.sent("PATCH", r"/todos/") + traffic.sent("DELETE", r"/todos/")
    assert len(writes) == 3
    etag = f'"{todo["id"]}-'
    assert all(w.headers.get("if-match", "").startswith(etag) for w in writes)
    assert [w.headers["if-match"] for w in writes] == [f'{etag}1"', f'{etag}2"', f'{etag}3"']


def test_a_write_on_a_todo_changed_elsewhere_gets_a_clear_412_message(live_server, http, page_at):
    account = register(http, live_server, "racer")
    page, traffic = page_at(live_server)
    sign_in(page, "racer")
    page.get_by_label("New todo").fill("Call mum")
    page.get_by_role("button", name="Add").click()
    expect(message(page)).to_have_text("Added “Call mum”.")

    # Another client (another login of the same user) renames it behind the page's back.
    other = login(http, live_server, account)["access_token"]
    [todo] = api_get(live_server, "/todos", other).json()["items"]
    renamed = http.patch(
        f"{live_server.url}{API}/todos/{todo['id']}",
        json={"title": "Call mum tonight"},
        headers=bearer(other),
    )
    assert renamed.status_code == 200

    page.get_by_label("Call mum", exact=True).click()

    expect(message(page)).to_contain_text("was changed elsewhere")
    expect(message(page)).to_contain_text("412")
    assert ("PATCH", f"/todos/{todo['id']}", 412) in traffic.calls()
    # Nothing was written, and the page now shows the version the other client saved.
    expect(page.get_by_label("Call mum tonight", exact=True)).not_to_be_checked()
    stored = api_get(live_server, f"/todos/{todo['id']}", other).json()
    assert (stored["title"], stored["done"]) == ("Call mum tonight", False)


# --- directory and templates ------------------------------------------------------------------


@pytest.fixture(scope="module")
def directory_server(live_server_factory) -> Iterator[LiveServer]:
    """A server of its own with SEEDED_USERS fake users from `users seed` (same seed every run,
    so the screenshot shows the same people) and the viewer's account."""
    server = live_server_factory.start()
    seeded = server.flask("users", "seed", "--count", str(SEEDED_USERS), "--seed", "7")
    assert seeded.returncode == 0, seeded.stderr
    with requests.Session() as http:
        # Sorts after every seeded username, so page 1 is the same seeded users every run.
        register(http, server, "zoe.viewer", name="Zoe Viewer")
    yield server
    live_server_factory.stop(server)


def test_directory_pages_forward_and_back_through_cursors(directory_server, page_at):
    page, traffic = page_at(directory_server)
    sign_in(page, "zoe.viewer")
    page.get_by_role("link", name="Directory").click()

    total = SEEDED_USERS + 1
    pages = -(-total // PAGE_SIZE)
    expect(page.get_by_text(f"{total} users", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Page 1 of {pages}")).to_be_visible()
    first = directory_usernames(page)
    assert len(first) == PAGE_SIZE
    assert first == sorted(first, key=str.lower)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)

    previous = page.get_by_role("button", name="Previous page")
    next_page = page.get_by_role("button", name="Next page")
    expect(previous).to_be_disabled()
    seen = [first]
    for number in range(2, pages + 1):
        next_page.click()
        expect(page.get_by_text(f"Page {number} of {pages}")).to_be_visible()
        seen.append(directory_usernames(page))
    expect(next_page).to_be_disabled()
    walked = [name for rows in seen for name in rows]
    assert len(walked) == total == len(set(walked))
    assert walked == sorted(walked, key=str.lower)

    for number in range(pages - 1, 0, -1):
        previous.click()
        expect(page.get_by_text(f"Page {number} of {pages}")).to_be_visible()
        assert directory_usernames(page) == seen[number - 1]
    expect(previous).to_be_disabled()

    # The first page comes in page mode (with the total), later pages through the cursors.
    user_pages = [r.url for r in traffic.requests if f"{API}/users?" in r.url]
    assert "page=1" in user_pages[0] and "per_page=20" in user_pages[0]
    assert all("cursor=" in url for url in user_pages[1:pages])


def test_directory_search_as_you_type_and_sort_by_newest(directory_server, page_at):
    page, _ = page_at(directory_server)
    sign_in(page, "zoe.viewer")
    page.get_by_role("link", name="Directory").click()
    expect(page.get_by_text("Page 1 of 3")).to_be_visible()
    token = stored_tokens(page)["access"]

    # A prefix a few seeded users share, typed key by key.
    q = directory_usernames(page)[0][:2]
    page.get_by_label("Search users").press_sequentially(q)
    expected = api_get(directory_server, "/users", token, q=q, page=1, per_page=20).json()
    matches = expected["meta"]["total"]
    noun = "user" if matches == 1 else "users"
    expect(page.get_by_text(f"{matches} {noun} match “{q}”")).to_be_visible()
    assert directory_usernames(page) == [user["username"] for user in expected["items"]]

    page.get_by_label("Search users").fill("")
    page.get_by_label("Sort by").select_option(label="Newest first")
    expect(page.locator("#directory-table tbody tr").first).to_contain_text("zoe.viewer")
    newest = api_get(directory_server, "/users", token, sort="-created", limit=20).json()
    assert directory_usernames(page) == [user["username"] for user in newest["items"]]


def test_template_catalog_is_listed_read_only(live_server, http, page_at):
    account = register(http, live_server, "reader")
    token = login(http, live_server, account)["access_token"]
    for name in ("Welcome email", "Invoice reminder"):
        created = http.post(
            f"{live_server.url}{API}/templates",
            json={"name": name, "description": f"{name} text"},
            headers=bearer(token),
        )
        assert created.status_code == 201
    page, traffic = page_at(live_server)
    sign_in(page, "reader")
    page.get_by_role("link", name="Templates").click()

    table = page.get_by_role("table", name="Templates (read only)")
    expect(table.get_by_role("cell", name="Invoice reminder", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name="Welcome email", exact=True)).to_be_visible()
    expect(table.get_by_role("button")).to_have_count(0)
    assert not [r for r in traffic.requests if "/templates" in r.url and r.method != "GET"]


# --- tokens and limits ------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(
    start_live_server, http, page_at
):
    server = start_live_server(JWT_ACCESS_TOKEN_EXPIRES=2)
    register(http, server, "sleeper")
    page, traffic = page_at(server)
    sign_in(page, "sleeper")
    before = stored_tokens(page)

    # Wait (bounded) until the server itself calls the page's access token expired.
    deadline = time.monotonic() + 30
    while api_get(server, "/users/me", before["access"]).status_code == 200:
        assert time.monotonic() < deadline, "the 2-second access token never expired"
        time.sleep(0.5)
    calls_before = len(traffic.calls())

    page.get_by_label("New todo").fill("After a nap")
    page.get_by_role("button", name="Add").click()

    expect(message(page)).to_have_text("Added “After a nap”.")
    assert traffic.calls()[calls_before : calls_before + 3] == [
        ("POST", "/todos", 401),
        ("POST", "/auth/refresh", 200),
        ("POST", "/todos", 201),
    ]
    expired = [r for r in traffic.responses if r.status == 401 and r.url.endswith("/todos")]
    assert expired[0].json()["error"]["code"] == "token_expired"
    after = stored_tokens(page)
    assert after["access"] != before["access"]
    assert after["refresh"] != before["refresh"]


def test_a_429_is_shown_with_its_retry_after(start_live_server, http, page_at):
    server = start_live_server(RATELIMIT_ENABLED=True, DEFAULT_RATE_LIMIT=6)
    register(http, server, "hasty")
    page, _ = page_at(server)
    sign_in(page, "hasty")

    # Each view switch loads one list; the budget runs out within a few switches.
    views = ["Directory", "Templates", "My todos"]
    for turn in range(10):
        with page.expect_response(lambda response: API in response.url) as answer:
            page.get_by_role("link", name=views[turn % 3]).click()
        if answer.value.status == 429:
            break
    refused = answer.value
    assert refused.status == 429
    retry_after = refused.headers["retry-after"]
    expect(message(page)).to_have_text(
        f"Too many requests. Try again in {retry_after} s (Retry-After: {retry_after})."
    )


# --- account recovery -------------------------------------------------------------------------


def test_forgot_password_then_the_mailed_link_sets_a_new_one(
    start_live_server, smtp_server, http, page_at
):
    # PUBLIC_URL is left at its default, http://127.0.0.1:<PORT>: this very server.
    server = start_live_server(SMTP_URL=smtp_server.url)
    account = register(http, server)
    old = login(http, server, account)
    page, traffic = page_at(server)

    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot password")).to_be_focused()
    forgot = page.get_by_role("form", name="Forgot password")
    forgot.get_by_label("Email").fill(account["email"])
    forgot.get_by_role("button", name="Email me a link").click()
    expect(message(page)).to_contain_text("Check your mailbox.")
    mail = smtp_server.wait_for_message(account["email"], "Reset your password")
    link = link_in(mail.get_body(("plain",)).get_content(), "reset-password")
    assert link.group("origin") == server.url

    # Opened from the mail: a fresh load of the page with the token in the fragment.
    page.goto("about:blank")
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Reset password")).to_be_visible()
    expect(page).to_have_url(f"{server.url}/#reset-password")  # the token left the address bar
    reset = page.get_by_role("form", name="Reset password")
    reset.get_by_label("New password").fill("chosen-in-chromium")
    reset.get_by_role("button", name="Set new password").click()
    expect(message(page)).to_contain_text("Your password has been changed")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()

    (sent,) = traffic.sent("POST", r"/auth/password/reset$")
    assert sent.post_data_json == {"token": link.group("token"), "password": "chosen-in-chromium"}
    assert api_get(server, "/users/me", old["access_token"]).status_code == 401
    sign_in(page, account["username"], "chosen-in-chromium")
