"""GraphiQL in a real browser with the network cut off: Debian's Chromium, driven by Playwright, opens
/graphql on a real server holding the demo, runs the article's query and reads 93 of 100 in the result pane.

Nothing but the server answers the browser: every request to another origin is refused and recorded (and
host names other than 127.0.0.1 do not resolve), and the test fails if the page tried any. Where Chromium
is missing the tests skip, saying so, unless QINGLIAN_REQUIRE_BROWSER is set (as .ci/run does): there a
missing browser is a failure, never a quiet pass.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, WebSocket, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from schema.app import create_graphql_app
from service.runtime.app import DatabaseUrls
from service.runtime.settings import Settings

REQUIRE = "QINGLIAN_REQUIRE_BROWSER"
# Hang guards only, never expectations about speed.
STARTUP_TIMEOUT = 60.0
BROWSER_TIMEOUT_MS = 60_000

QUERY = '{ city(asOf: "2022-06-08") { asOf coverage { communities standardized } } }'
ANSWER = {"data": {"city": {"asOf": "2022-06-08", "coverage": {"communities": 100, "standardized": 93}}}}


def chromium() -> str:
    """Debian's Chromium (Playwright's own browser download is never used), or skip or fail if absent."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get(REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{message}, and {REQUIRE} says the browser tests must run")
        pytest.skip(f"{message}; set {REQUIRE}=1 to make this a failure, as .ci/run does")
    return found


@pytest.fixture(scope="module")
def server(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`qinglian serve`'s app on the demo's database, under uvicorn on a free port of 127.0.0.1."""
    settings = Settings(
        database_url=demo_url,
        data_dir=tmp_path_factory.mktemp("data"),
        pool_min_size=1,
        pool_max_size=4,
    )
    app = create_graphql_app(settings, DatabaseUrls(owner=demo_url))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", access_log=False))
    # Off the main thread uvicorn leaves signals alone; `should_exit` stops it.
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _ready(base):
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail(f"the server at {base} was not ready within {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.1)
        yield base
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        listener.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5.0).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def executable() -> str:
    return chromium()


@pytest.fixture(scope="module")
def browser(executable: str, server: str) -> Iterator[Browser]:
    """Chromium, started after the server: Playwright's synchronous API keeps an event loop running on this
    thread, where the demo's fixture runs its own."""
    del server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # No name resolves but the test server's address: nothing could reach the Internet if asked.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Offline:
    """A page whose requests reach the test server only, and what it tried and said."""

    page: Page
    origin: str
    refused: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if _origin(url) == self.origin:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)

    def open_graphiql(self, server: str) -> None:
        """/graphql, until GraphiQL's query editor shows; if it never does, what the page tried and said."""
        self.page.goto(f"{server}/graphql")
        try:
            self.page.locator(".graphiql-query-editor .CodeMirror").wait_for(state="visible")
        except PlaywrightTimeoutError:
            pytest.fail(f"GraphiQL did not start; refused: {self.refused}, errors: {self.errors}")

    def assert_stayed_home(self) -> None:
        """Nothing was asked of any other origin, over HTTP or WebSocket, and nothing logged an error."""
        assert [] == self.refused
        assert [] == [url for url in self.requested if _origin(url) != self.origin]
        assert [] == [url for url in self.sockets if _origin(url) != self.origin]
        assert [] == self.errors


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


@pytest.fixture
def offline(browser: Browser, server: str) -> Iterator[Offline]:
    context = browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        watched = Offline(page, server)
        context.route("**/*", watched.route)
        page.on("request", lambda request: watched.requested.append(request.url))
        page.on("console", watched.console)
        page.on("pageerror", lambda error: watched.errors.append(str(error)))
        page.on("websocket", watched.socket)
        yield watched
    finally:
        context.close()


def editor_text(page: Page, pane: str) -> str:
    """The text of one of GraphiQL's CodeMirror editors ("query-editor", "response")."""
    text: Any = page.evaluate(
        "pane => document.querySelector(`.graphiql-${pane} .CodeMirror`).CodeMirror.getValue()", pane
    )
    assert isinstance(text, str)
    return text


def test_graphiql_runs_the_articles_query_with_the_network_cut_off(offline: Offline, server: str) -> None:
    page = offline.page
    offline.open_graphiql(server)
    page.locator(".graphiql-query-editor .CodeMirror-code").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(QUERY)
    assert QUERY == editor_text(page, "query-editor")
    page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response .CodeMirror")
    response.filter(has_text="standardized").wait_for(state="visible")
    assert ANSWER == json.loads(editor_text(page, "response"))
    shown = response.inner_text()
    assert '"communities": 100' in shown
    assert '"standardized": 93' in shown
    offline.assert_stayed_home()


def test_the_page_may_reach_the_websocket_endpoint_for_subscriptions(offline: Offline, server: str) -> None:
    """The page's policy lets it open /graphql's WebSocket, where an operation runs (graphql-transport-ws),
    as GraphiQL's fetcher does for a subscription."""
    page = offline.page
    offline.open_graphiql(server)
    answer: Any = page.evaluate(
        """query => new Promise((resolve, reject) => {
            const url = new URL(window.location.href);
            url.protocol = "ws:";
            const socket = new WebSocket(url.toString(), "graphql-transport-ws");
            socket.onerror = () => reject(new Error("the WebSocket failed"));
            socket.onopen = () => socket.send(JSON.stringify({type: "connection_init"}));
            socket.onmessage = event => {
                const message = JSON.parse(event.data);
                if (message.type === "connection_ack") {
                    socket.send(JSON.stringify({id: "1", type: "subscribe", payload: {query}}));
                } else if (message.type === "next") {
                    socket.close();
                    resolve(message.payload);
                }
            };
        })""",
        QUERY,
    )
    assert ANSWER == answer
    assert [f"ws://{urlsplit(server).netloc}/graphql"] == offline.sockets
    offline.assert_stayed_home()


def test_a_page_whose_scripts_did_not_load_says_what_to_do_instead(offline: Offline, server: str) -> None:
    """A proxy that drops GraphiQL's script leaves a page that says so and how to query, not a blank one."""
    page = offline.page
    page.route("**/graphql/assets/graphiql.min.js*", lambda route: route.abort("failed"))
    page.goto(f"{server}/graphql")
    note = page.locator("#graphiql")
    note.filter(has_text="did not load").wait_for(state="visible")
    assert "POST a JSON body" in note.inner_text()
    assert [] == offline.refused
