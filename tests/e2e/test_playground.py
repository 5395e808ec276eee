"""End to end in a real Teams client: the Agents Playground in headless Chromium.

The bot runs as ``helpdesk serve`` on a free loopback port with its own data
folder, the Playground (from ``node_modules``) points at it with channel
``msteams``, and Playwright drives Debian's Chromium. Every wait is bounded and
every process is stopped, pass or fail. Locally a missing Chromium or Playground
skips; with ``CI=true`` it fails, because CI must run this.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
PLAYGROUND_BIN = REPO / "node_modules" / ".bin" / "agentsplayground"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Belt and braces with the request filter below: no name resolves but ours.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]

QUESTION = "how do I set up the VPN on my Mac?"
TICKET_REQUEST = "the printer on floor 3 jams all the time, open a ticket"
EDITED_SUMMARY = "Floor 3 printer jams on every print job"

BOT_START_S = 90.0
PLAYGROUND_START_S = 30.0
PAGE_LOAD_MS = 30_000
REPLY_MS = 60_000
POPUP_MS = 10_000
POPUP_S = 15.0
HOVER_MS = 2_000
MAX_CITATIONS = 5
STOP_S = 10.0


def _missing(reason: str) -> NoReturn:
    """Skip locally; fail in CI, where every prerequisite must be installed."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        text = self.log.read_text("utf-8", errors="replace")
        return f"--- {self.name} output (last 4000 chars) ---\n{text[-4000:]}"

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        # Each child leads its own process group (start_new_session), so this
        # reaches what it spawned too (node, the Python bot) and nothing else.
        pgid = self.popen.pid
        for sig, wait_s in ((signal.SIGTERM, STOP_S), (signal.SIGKILL, STOP_S)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture
def processes() -> Iterator[Callable[..., _Process]]:
    started: list[_Process] = []

    def start(
        name: str, argv: list[str], *, env: dict[str, str], cwd: Path
    ) -> _Process:
        log = cwd / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = _Process(name, popen, log)
        started.append(process)
        return process

    yield start

    for process in reversed(started):
        process.stop()


def _wait_until(
    check: Callable[[], Any], process: _Process, *, timeout_s: float, what: str
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if process.popen.poll() is not None:
            pytest.fail(
                f"{process.name} exited with {process.popen.returncode} before "
                f"{what}\n{process.output()}"
            )
        time.sleep(0.25)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f} s\n{process.output()}")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _start_bot(start: Callable[..., _Process], workdir: Path) -> str:
    port = _free_port()
    env = dict(os.environ)
    env["HELPDESK_DATA_DIR"] = str(workdir / "bot-data")
    bot = start(
        "bot",
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_until(
        lambda: _ready(base + "/readyz"),
        bot,
        timeout_s=BOT_START_S,
        what="the bot answering /readyz",
    )
    return base + "/api/messages"


def _start_playground(
    start: Callable[..., _Process], workdir: Path, bot_endpoint: str
) -> str:
    # The Playground exits at start without an xdg-open on PATH, even when told
    # not to open a browser; a no-op one is enough.
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    xdg_open = bin_dir / "xdg-open"
    xdg_open.write_text("#!/bin/sh\nexit 0\n")
    xdg_open.chmod(0o755)

    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["TEAMSAPPTESTER_BROWSER"] = "none"
    env["M365_AGENTS_PLAYGROUND_LOGFILE"] = str(workdir / "playground-ui.log")
    playground = start(
        "playground",
        [
            str(PLAYGROUND_BIN),
            "--disable-telemetry",
            "--channel-id",
            "msteams",
            "--app-endpoint",
            bot_endpoint,
            "--port",
            str(_free_port()),
        ],
        env=env,
        cwd=workdir,
    )

    # It moves to a random port when the one asked for is taken, and says so.
    def listening() -> str | None:
        text = playground.log.read_text("utf-8", errors="replace")
        match = re.search(r"Listening on (\d+)", text)
        return match.group(1) if match else None

    port = _wait_until(
        listening,
        playground,
        timeout_s=PLAYGROUND_START_S,
        what="the Playground listening",
    )
    return f"http://127.0.0.1:{port}/"


def _launch_chromium(playwright: Any, profile: Path) -> Any:
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 900},
    )

    # The Playground's page asks a CDN for fonts and an animation script; they
    # are not needed, and nothing may leave this machine.
    def only_loopback(route: Any) -> None:
        url = route.request.url
        if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", url) or (
            url.startswith(("data:", "blob:"))
        ):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    return context


def _require_client() -> None:
    if not CHROMIUM.is_file():
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if not PLAYGROUND_BIN.is_file():
        _missing("the Agents Playground is not installed (run `npm ci`)")
    if shutil.which("node") is None:
        _missing("node is not on PATH; the Agents Playground needs it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed")


def _say(page: Any, text: str) -> None:
    from playwright.sync_api import expect

    # The compose box is a rich-text editor, not an <input>.
    compose = page.locator('[role="textbox"][contenteditable="true"]').first
    compose.wait_for(timeout=PAGE_LOAD_MS)
    compose.click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=PAGE_LOAD_MS)


@dataclass
class _Step:
    """What the test is doing now, for the failure message."""

    name: str = "open the Playground"


@contextmanager
def _playground_page(
    processes: Callable[..., _Process], workdir: Path, screenshot: Path
) -> Iterator[tuple[Any, _Step]]:
    """The bot, the Playground pointed at it, and a Chromium page on it.

    A failure inside the block gets a note saying which step it was in and a
    screenshot; Chromium and both processes are stopped either way.
    """
    _require_client()
    from playwright.sync_api import sync_playwright

    bot_endpoint = _start_bot(processes, workdir)
    playground_url = _start_playground(processes, workdir, bot_endpoint)
    with sync_playwright() as playwright:
        context = _launch_chromium(playwright, workdir / "chromium-profile")
        page = context.new_page()
        step = _Step()
        try:
            page.goto(playground_url, timeout=PAGE_LOAD_MS)
            yield page, step
        except Exception as exc:
            exc.add_note(f"while trying to {step.name}; screenshot at {screenshot}")
            page.screenshot(path=str(screenshot))
            raise
        finally:
            context.close()


def test_playground_shows_a_cited_answer(
    processes: Callable[..., _Process], tmp_path: Path
) -> None:
    screenshot = tmp_path / "playground.png"
    with _playground_page(processes, tmp_path, screenshot) as (page, step):
        step.name = "type the question"
        _say(page, QUESTION)

        step.name = "wait for a reply with a citation"
        # A citation renders as a numbered button in the message body.
        markers = page.locator("a[role='button']").filter(
            has_text=re.compile(r"^\s*\d+\s*$")
        )
        markers.first.wait_for(timeout=REPLY_MS)

        step.name = "read the citations' pop-ups"
        cited = _read_citations(page, markers, screenshot)
        assert any(
            re.search(r"vpn", c, re.I) and re.search(r"\bmac", c, re.I) for c in cited
        ), cited

    assert screenshot.is_file()


def test_playground_edits_and_confirms_a_drafted_ticket(
    processes: Callable[..., _Process], tmp_path: Path
) -> None:
    """The ticket card's inputs render in the client, an edit reaches the bot
    with the Approve click, and the ticket is made from the edited draft."""
    screenshot = tmp_path / "playground-ticket.png"
    with _playground_page(processes, tmp_path, screenshot) as (page, step):
        from playwright.sync_api import expect

        step.name = "ask for a ticket"
        _say(page, TICKET_REQUEST)

        step.name = "wait for the drafted ticket card"
        summary = page.get_by_label("Summary")
        summary.first.wait_for(timeout=REPLY_MS)
        expect(summary.first).to_have_value(
            re.compile("printer on floor 3", re.I), timeout=POPUP_MS
        )

        step.name = "edit the summary and approve"
        summary.first.fill(EDITED_SUMMARY)
        page.get_by_role("button", name="Approve").first.click()

        step.name = "wait for the ticket number"
        confirmation = page.get_by_text(re.compile(r"Your ticket INC\d{7} is open"))
        confirmation.first.wait_for(timeout=REPLY_MS)
        assert EDITED_SUMMARY in confirmation.first.inner_text()


def _read_citations(page: Any, markers: Any, screenshot: Path) -> list[str]:
    """Hover each citation marker and return the text of its pop-up.

    The pop-up (title, excerpt, link) opens on hover; a hover that lands while
    the message is still settling is retried, within a bounded time.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    texts: list[str] = []
    popup = page.get_by_role("dialog")
    for index in range(min(markers.count(), MAX_CITATIONS)):
        marker = markers.nth(index)
        deadline = time.monotonic() + POPUP_S
        while True:
            marker.scroll_into_view_if_needed(timeout=POPUP_MS)
            marker.hover(timeout=POPUP_MS)
            try:
                popup.first.wait_for(timeout=HOVER_MS)
                break
            except PlaywrightTimeout:
                if time.monotonic() > deadline:
                    raise
                page.mouse.move(0, 0)
        text = popup.first.inner_text(timeout=POPUP_MS)
        texts.append(text)
        if re.search(r"vpn", text, re.I) and not screenshot.exists():
            page.screenshot(path=str(screenshot), animations="disabled")
        page.mouse.move(0, 0)
        popup.first.wait_for(state="hidden", timeout=POPUP_MS)
    return texts
