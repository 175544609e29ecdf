"""Browser tests: Debian's chromium driven by Playwright's sync API in one worker thread.

Playwright's async API does not run under Trio, and its sync objects belong to the thread
that made them, so one `BrowserThread` per session owns the browser and runs the scenarios
handed to it (`await browser.run(scenario)`). No `playwright install`: the browser is the
system's `chromium`. Screenshots go to test-output/screenshots/ (git-ignored); with
DOCS_SCREENSHOTS=1 a few are also written to docs/screenshots/ for the README.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tests.harness import RunningProxy, start_proxy
from tests.oidc import OidcProvider
from web.config import AdminConfig, OAuthConfig, OAuthProviderConfig

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
ADMIN_EMAIL = "ops-admin@example.com"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class BrowserThread:
    """The thread that owns Playwright and one chromium; runs `fn(browser)` jobs in order."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], queue.Queue[Any]] | None] = (
            queue.Queue()
        )
        self._ready: queue.Queue[BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="playwright", daemon=True)

    def start(self) -> None:
        self._thread.start()
        failure = self._ready.get(timeout=60)
        if failure is not None:
            raise failure

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            executable = shutil.which("chromium")
            if executable is None:
                raise RuntimeError("chromium is not installed: apt-get install chromium")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                self._ready.put(None)
                while (job := self._jobs.get()) is not None:
                    fn, reply = job
                    try:
                        reply.put((True, fn(browser)))
                    except BaseException as exc:  # handed to the waiting test
                        reply.put((False, exc))
                browser.close()
        except BaseException as exc:
            self._ready.put(exc)

    def call(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(browser)` in the browser thread and return its result (blocking)."""
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self._jobs.put((fn, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    async def run(self, fn: Callable[[Any], T]) -> T:
        """`call` from a Trio test, without blocking its loop."""
        with trio.fail_after(240):
            return await trio.to_thread.run_sync(self.call, fn, abandon_on_cancel=True)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    """One headless chromium for the whole session."""
    thread = BrowserThread()
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def ui_proxy(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[RunningProxy]:
    """A live proxy (with the Bedrock emulator) whose sign-in provider is the test OIDC
    provider, and one admin email."""
    oauth = OAuthConfig(
        providers={
            "corp": OAuthProviderConfig(
                type="custom",
                display_name="Corp SSO",
                client_id="bsp-ui-tests",
                client_secret="bsp-ui-secret",
                issuer=oidc_provider.url,
            )
        }
    )
    with start_proxy(
        tmp_path_factory.mktemp("ui"), oauth=oauth, admin=AdminConfig(emails=[ADMIN_EMAIL])
    ) as proxy:
        yield proxy


def shoot(
    page: Any, name: str, *, docs: bool = False, mask: list[Any] | None = None, full: bool = True
) -> None:
    """A screenshot under test-output/screenshots (and docs/ when asked for)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full, mask=mask or [])
    if docs and os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS_SCREENSHOTS / f"{name}.png")
