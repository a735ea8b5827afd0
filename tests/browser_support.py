"""Headless Chromium for the tests of the HTML pages taserlink writes, driven over the Chrome
DevTools Protocol, and a PNG reader for its screenshots.

CI renders the pages, so a missing Chromium is a failure with the reason, never a skip (as with
tshark, ``tests/tshark_support.py``): :func:`require_chromium` finds ``chromium`` on PATH or
at /usr/bin/chromium and otherwise installs Debian's ``chromium`` package with apt (without
its recommends, which are desktop services, but with ``fonts-liberation`` so that text has
fonts) when the process is root and ``apt-get`` exists. Test processes that find it missing
at once take turns (``tests/apt_support.py``): one installs, the others wait and find it.

:class:`Browser` starts one headless Chromium (``--remote-debugging-pipe``: the browser reads
commands from its fd 3 and writes replies and events to its fd 4, each a JSON text ended by a
NUL byte, so no websocket library is needed) with a fresh profile in a temporary directory, no
sandbox when root, no GPU, and no network: host names resolve to nothing and every http(s)
request goes to a proxy that is not there, so a page that asks for anything outside the
``file://`` it was opened from gets an error in its console. Every wait has a deadline; a
browser that does not answer raises :class:`BrowserTimeout` with the tail of its log. Leaving
the ``with`` block closes the browser, kills whatever is left of its process group, reaps it
and removes the profile, also after a failure.

:meth:`Browser.render` opens a page, waits for its load event and its fonts, and returns a
:class:`Rendered`: the screenshot (PNG), the console (``console.*`` calls, uncaught
exceptions, the browser's own log such as failed loads), every URL the page asked for, and the
values of JavaScript expressions. :meth:`Browser.print_pdf` prints a page to PDF.
:meth:`Browser.open` gives the live :class:`Page` for anything else.

:func:`decode_png` reads 8-bit non-interlaced PNGs (grey, grey+alpha, RGB, RGBA) with Pillow
(matplotlib's own image library); :func:`distinct_colours` and :func:`png_is_blank` use it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import io
import json
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import PIL.Image
import pytest

from tests.apt_support import installed_or_install

CHROMIUM_NAMES = ("chromium", "chromium-browser")
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PACKAGES = ("chromium", "fonts-liberation")
"""Debian's browser and the fonts it renders text with (Arial's and Times's metrics)."""

TIMEOUT_S = 30.0
"""The default deadline of every step: starting the browser, one command, loading a page."""

_CLOSE_TIMEOUT_S = 5.0
_LOG_TAIL_LINES = 12
_MAX_SHOT_PX = 16384
"""The tallest or widest full-page screenshot taken (Chromium's largest texture)."""


def find_chromium() -> str | None:
    """The path of Chromium on PATH or at /usr/bin/chromium, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    if DEBIAN_CHROMIUM.is_file() and os.access(DEBIAN_CHROMIUM, os.X_OK):
        return str(DEBIAN_CHROMIUM)
    return None


@functools.cache
def _locate() -> tuple[str | None, str]:
    found, problem = installed_or_install(find_chromium, CHROMIUM_PACKAGES, recommends=False)
    if found is None:
        return None, problem or "apt-get reported success but chromium is not on PATH"
    return found, ""


def require_chromium() -> str:
    """The path of Chromium, installing it first if needed; fails the calling test if
    impossible."""
    found, problem = _locate()
    if found is None:
        pytest.fail(
            "chromium is required by the page-rendering tests and could not be installed: "
            + problem,
            pytrace=False,
        )
    return found


# The browser.


def processes_using(directory: Path) -> list[int]:
    """The live (not zombie) processes whose command line names ``directory``: a browser's
    processes, including the crash handlers that leave its process group, name its profile."""
    needle = os.fsencode(directory)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes()
            state = Path(entry.path, "stat").read_bytes().rpartition(b")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if needle in command and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def _kill_processes_using(directory: Path) -> None:
    """Kill what is left of a closed browser, waiting until it is gone.

    Raises:
        BrowserError: some process is still there after the wait.
    """
    deadline = time.monotonic() + _CLOSE_TIMEOUT_S
    while left := processes_using(directory):
        if time.monotonic() > deadline:
            raise BrowserError(f"chromium's processes {left} did not end when killed")
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


class BrowserError(Exception):
    """Chromium could not be started, exited, or answered a command with an error."""


class BrowserTimeout(BrowserError, TimeoutError):
    """Chromium did not answer, or a page did not load, within the deadline."""


@dataclass(frozen=True)
class ConsoleMessage:
    """One message of a page's console.

    ``source`` is ``console-api`` (a ``console.*`` call), ``exception`` (an uncaught
    exception) or the browser's own log source (``network``, ``javascript``, ``security``,
    ``rendering``, …); ``level`` is ``error``, ``warning``, ``info``, ``log`` or ``debug``."""

    source: str
    level: str
    text: str
    url: str = ""

    def __str__(self) -> str:
        where = f" ({self.url})" if self.url else ""
        return f"[{self.source} {self.level}] {self.text}{where}"


@dataclass(frozen=True)
class Rendered:
    """What one page gave: its screenshot, console, requests and asked-for values."""

    url: str
    """The ``file://`` URL the page was opened at."""
    png: bytes
    """The screenshot, one PNG pixel a CSS pixel."""
    console: tuple[ConsoleMessage, ...]
    requests: tuple[str, ...]
    """Every URL the page asked for, in order, its own first."""
    values: Mapping[str, Any] = field(default_factory=dict)
    """The value of each JavaScript expression :meth:`Browser.render` was given, by name."""

    @property
    def errors(self) -> tuple[ConsoleMessage, ...]:
        """The console's errors: ``console.error``, uncaught exceptions, failed loads."""
        return tuple(message for message in self.console if message.level == "error")

    @property
    def outside_requests(self) -> tuple[str, ...]:
        """The URLs asked for besides the page itself."""
        return tuple(url for url in self.requests if url != self.url)

    def problems(self) -> list[str]:
        """Why this is not a self-contained page that rendered, one line a reason: a blank
        screenshot, a console error, anything loaded besides the page. Empty when none."""
        found = [f"console: {message}" for message in self.errors]
        found += [f"loaded besides the page: {url}" for url in self.outside_requests]
        if png_is_blank(self.png):
            found.append("the screenshot is blank (a single colour)")
        return found


def _console_api(params: Mapping[str, Any]) -> ConsoleMessage:
    kind = str(params.get("type", "log"))
    level = {"error": "error", "assert": "error", "warning": "warning"}.get(kind, kind)
    words = []
    for argument in params.get("args", ()):
        if "value" in argument:
            value = argument["value"]
            words.append(value if isinstance(value, str) else json.dumps(value))
        else:
            words.append(
                str(
                    argument.get("unserializableValue")
                    or argument.get("description")
                    or argument.get("type")
                )
            )
    frames = params.get("stackTrace", {}).get("callFrames", ())
    url = str(frames[0].get("url", "")) if frames else ""
    return ConsoleMessage("console-api", level, " ".join(words), url)


def _exception(params: Mapping[str, Any]) -> ConsoleMessage:
    details = params.get("exceptionDetails", {})
    text = details.get("exception", {}).get("description") or details.get("text", "")
    return ConsoleMessage("exception", "error", str(text), str(details.get("url", "")))


def _log_entry(params: Mapping[str, Any]) -> ConsoleMessage:
    entry = params.get("entry", {})
    return ConsoleMessage(
        str(entry.get("source", "other")),
        str(entry.get("level", "info")),
        str(entry.get("text", "")),
        str(entry.get("url", "")),
    )


class Page:
    """One tab of a :class:`Browser`, attached to over the browser's pipe (a flat session).

    Its console and requests fill in as the browser reports them, which it does while any
    command of the browser's is awaited."""

    def __init__(self, browser: Browser, target_id: str, session_id: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.url = ""
        self.console: list[ConsoleMessage] = []
        self.requests: list[str] = []
        self.lifecycle: set[tuple[str, str, str]] = set()
        """(frame, loader, event name) of every lifecycle event seen."""
        self.main_frame = ""

    def event(self, method: str, params: Mapping[str, Any]) -> None:
        """Take one event the browser sent for this page."""
        if method == "Runtime.consoleAPICalled":
            self.console.append(_console_api(params))
        elif method == "Runtime.exceptionThrown":
            self.console.append(_exception(params))
        elif method == "Log.entryAdded":
            self.console.append(_log_entry(params))
        elif method == "Network.requestWillBeSent":
            self.requests.append(str(params.get("request", {}).get("url", "")))
        elif method == "Page.lifecycleEvent":
            names = (str(params.get(key, "")) for key in ("frameId", "loaderId", "name"))
            self.lifecycle.add((next(names), next(names), next(names)))

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one command to this page and return its result."""
        return self.browser.call(method, params, session=self.session_id)

    def navigate(self, url: str, *, timeout: float | None = None) -> None:
        """Open ``url`` and wait for its load event and its fonts."""
        timeout = self.browser.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        self.url = url
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"{url} did not open: {result['errorText']}")
        frame, loader = str(result.get("frameId", "")), str(result.get("loaderId", ""))
        self.main_frame = frame
        self.browser.wait(
            lambda: (frame, loader, "load") in self.lifecycle,
            deadline,
            f"the load event of {url}",
        )
        self.evaluate("document.fonts.ready.then(() => document.fonts.status)")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited); a thrown
        exception raises :class:`BrowserError`."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return result.get("result", {}).get("value")

    def screenshot(self, *, full_page: bool = True) -> bytes:
        """A PNG of the viewport, or of the whole page when ``full_page``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.call("Page.getLayoutMetrics")
            content = metrics.get("cssContentSize") or metrics["contentSize"]
            viewport = metrics.get("cssLayoutViewport") or metrics["layoutViewport"]
            width = max(content["width"], viewport["clientWidth"])
            height = max(content["height"], viewport["clientHeight"])
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": min(int(width + 0.999), _MAX_SHOT_PX),
                "height": min(int(height + 0.999), _MAX_SHOT_PX),
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def print_pdf(self, **options: Any) -> bytes:
        """The page printed to PDF (``Page.printToPDF``: backgrounds printed, the page's CSS
        ``@page`` size preferred; ``options`` adds to or overrides those)."""
        params = {"printBackground": True, "preferCSSPageSize": True, **options}
        return base64.b64decode(self.call("Page.printToPDF", params)["data"])


class Browser:
    """One headless Chromium, started by ``with Browser() as browser:`` and always stopped,
    killed and reaped at the end of the block (see the module's docstring)."""

    def __init__(self, executable: str | None = None, *, timeout: float = TIMEOUT_S) -> None:
        self.executable = executable
        self.timeout = timeout
        self.pid = 0
        self._commands = -1
        self._replies = -1
        self._buffer = bytearray()
        self._scanned = 0
        self._next_id = 0
        self._pages: dict[str, Page] = {}
        self._directory: Path | None = None
        self.directory: Path | None = None
        """The browser's temporary directory (profile, HOME, log); removed at the end."""
        self.version = ""

    # Starting and stopping.

    def __enter__(self) -> Browser:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def arguments(self) -> list[str]:
        """The command line the browser is started with (after the program)."""
        assert self._directory is not None
        arguments = [
            "--headless=new",
            "--remote-debugging-pipe",
            f"--user-data-dir={self._directory / 'profile'}",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
            "--hide-scrollbars",
            "--force-color-profile=srgb",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
        ]
        if os.geteuid() == 0:
            arguments.append("--no-sandbox")
        return [*arguments, "about:blank"]

    def _start(self) -> None:
        executable = self.executable or require_chromium()
        self._directory = Path(tempfile.mkdtemp(prefix="taserlink-chromium-"))
        self.directory = self._directory
        log = self._directory / "chromium.log"
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # The child's ends are moved to fds 10 and up first, so that putting them on 3 and 4
        # cannot overwrite one with the other.
        child_fds = [
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (commands_read, replies_write)
        ]
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        child_fds.append(fcntl.fcntl(log_fd, fcntl.F_DUPFD_CLOEXEC, 10))
        env = dict(
            os.environ,
            HOME=str(self._directory),
            XDG_CONFIG_HOME=str(self._directory / "config"),
            XDG_CACHE_HOME=str(self._directory / "cache"),
        )
        try:
            self.pid = os.posix_spawn(
                executable,
                [executable, *self.arguments()],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, child_fds[2], 1),
                    (os.POSIX_SPAWN_DUP2, child_fds[2], 2),
                    (os.POSIX_SPAWN_DUP2, child_fds[0], 3),
                    (os.POSIX_SPAWN_DUP2, child_fds[1], 4),
                ],
                setsid=True,
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            )
        except OSError as exc:
            raise BrowserError(f"{executable} could not be started: {exc}") from exc
        finally:
            for fd in (commands_read, replies_write, log_fd, *child_fds):
                os.close(fd)
        os.set_blocking(self._commands, False)
        self.version = str(self.call("Browser.getVersion").get("product", ""))

    def close(self) -> None:
        """Close the browser (asking it first, then killing its process group), reap it and
        remove its profile; safe to call more than once."""
        try:
            if self.pid and self._commands >= 0:
                with contextlib.suppress(BrowserError, OSError):
                    self.call("Browser.close", timeout=_CLOSE_TIMEOUT_S)
            if self.pid:
                self._stop_process()
        finally:
            for fd in (self._commands, self._replies):
                if fd >= 0:
                    os.close(fd)
            self._commands = self._replies = -1
            if self._directory is not None:
                directory, self._directory = self._directory, None
                try:
                    _kill_processes_using(directory)
                finally:
                    shutil.rmtree(directory, ignore_errors=True)

    def _stop_process(self) -> None:
        pid, self.pid = self.pid, 0
        deadline = time.monotonic() + _CLOSE_TIMEOUT_S
        # Wait for the main process to exit without reaping it, so that its process group's
        # number cannot be reused before what is left of the group is killed.
        while time.monotonic() < deadline:
            exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if exited is not None:
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    def log_tail(self) -> str:
        """The last lines the browser wrote to its stdout and stderr."""
        if self._directory is None:
            return ""
        try:
            lines = (self._directory / "chromium.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    # The protocol.

    def _fail(self, problem: str, kind: type[BrowserError] = BrowserError) -> BrowserError:
        tail = self.log_tail()
        return kind(f"{problem}; chromium's log ends:\n{tail}" if tail else problem)

    def _send(self, message: Mapping[str, Any], deadline: float) -> None:
        data = memoryview(json.dumps(message).encode() + b"\0")
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(f"chromium took no command in time: {message}", BrowserTimeout)
            _, writable, _ = select.select([], [self._commands], [], remaining)
            if writable:
                try:
                    data = data[os.write(self._commands, data) :]
                except BrokenPipeError:
                    raise self._fail("chromium closed its command pipe (it exited)") from None

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while True:
            end = self._buffer.find(b"\0", self._scanned)
            if end >= 0:
                message = json.loads(bytes(self._buffer[:end]))
                del self._buffer[: end + 1]
                self._scanned = 0
                return dict(message)
            self._scanned = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(
                    f"chromium did not answer within the deadline, waiting for {waiting_for}",
                    BrowserTimeout,
                )
            readable, _, _ = select.select([self._replies], [], [], remaining)
            if readable:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise self._fail(f"chromium exited, while waiting for {waiting_for}")
                self._buffer += chunk

    def _dispatch(self, message: Mapping[str, Any]) -> None:
        page = self._pages.get(str(message.get("sessionId", "")))
        if page is not None and "method" in message:
            page.event(str(message["method"]), message.get("params", {}))

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send one command (to a page's session when ``session``) and return its result,
        taking the events that arrive meanwhile."""
        if self._commands < 0:
            raise BrowserError(f"the browser is closed; {method} was not sent")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._next_id += 1
        number = self._next_id
        message: dict[str, Any] = {"id": number, "method": method, "params": dict(params or {})}
        if session is not None:
            message["sessionId"] = session
        self._send(message, deadline)
        while True:
            reply = self._receive(deadline, f"the reply to {method}")
            if reply.get("id") == number:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return dict(reply.get("result", {}))
            self._dispatch(reply)

    def wait(self, condition: Callable[[], bool], deadline: float, waiting_for: str) -> None:
        """Take events until ``condition()`` is true; :class:`BrowserTimeout` at the
        deadline."""
        while not condition():
            self._dispatch(self._receive(deadline, waiting_for))

    # Pages.

    @contextlib.contextmanager
    def open(
        self,
        html_path: Path | str,
        *,
        width: int = 1280,
        height: int = 800,
        timeout: float | None = None,
    ) -> Iterator[Page]:
        """A new tab of ``width`` × ``height`` CSS pixels showing ``html_path``, loaded (its
        load event fired and its fonts ready); closed at the end of the block."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
            page = Page(self, target, session["sessionId"])
            self._pages[page.session_id] = page
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Page.setLifecycleEventsEnabled", {"enabled": True})
            page.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            page.navigate(Path(html_path).resolve().as_uri(), timeout=timeout)
            yield page
        finally:
            with contextlib.suppress(BrowserError, OSError):
                self.call("Target.closeTarget", {"targetId": target})
            self._pages = {key: p for key, p in self._pages.items() if p.target_id != target}

    def render(
        self,
        html_path: Path | str,
        *,
        width: int = 1280,
        height: int = 800,
        full_page: bool = True,
        evaluate: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Rendered:
        """Open ``html_path`` in a ``width`` × ``height`` viewport and return its screenshot
        (the whole page when ``full_page``), console, requests and the value of each
        JavaScript expression in ``evaluate`` (by the same names)."""
        with self.open(html_path, width=width, height=height, timeout=timeout) as page:
            values = {name: page.evaluate(js) for name, js in (evaluate or {}).items()}
            png = page.screenshot(full_page=full_page)
            return Rendered(
                url=page.url,
                png=png,
                console=tuple(page.console),
                requests=tuple(page.requests),
                values=values,
            )

    def print_pdf(
        self, html_path: Path | str, *, timeout: float | None = None, **options: Any
    ) -> bytes:
        """``html_path`` printed to PDF (see :meth:`Page.print_pdf` for ``options``)."""
        with self.open(html_path, timeout=timeout) as page:
            return page.print_pdf(**options)


def render(html_path: Path | str, **options: Any) -> Rendered:
    """:meth:`Browser.render` in a browser started for this one page."""
    with Browser() as browser:
        return browser.render(html_path, **options)


def print_pdf(html_path: Path | str, **options: Any) -> bytes:
    """:meth:`Browser.print_pdf` in a browser started for this one page."""
    with Browser() as browser:
        return browser.print_pdf(html_path, **options)


# PNG.

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Pixels:
    """A decoded image: ``height`` rows of ``width`` pixels of ``channels`` bytes."""

    width: int
    height: int
    channels: int
    data: bytes

    def array(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The pixels as a (height, width, channels) array."""
        shape = (self.height, self.width, self.channels)
        return np.frombuffer(self.data, dtype=np.uint8).reshape(shape)


_MODES: Final = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
"""The Pillow modes of 8-bit grey, grey+alpha, RGB and RGBA, and their channels."""


def decode_png(png: bytes) -> Pixels:
    """The pixels of an 8-bit, non-interlaced grey, grey+alpha, RGB or RGBA PNG, read by
    Pillow (which matplotlib brings).

    Raises:
        ValueError: not a PNG, a chunk's CRC is wrong, or a kind of PNG not read here.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG: the signature is missing")
    try:
        with PIL.Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            image.load()
            if image.mode not in _MODES or image.info.get("interlace"):
                raise ValueError(
                    f"PNG of mode {image.mode}: only 8-bit non-interlaced grey, grey+alpha, "
                    "RGB and RGBA are read"
                )
            return Pixels(image.width, image.height, _MODES[image.mode], image.tobytes())
    except (OSError, SyntaxError, PIL.UnidentifiedImageError) as error:
        raise ValueError(f"not a readable PNG: {error}") from None


def distinct_colours(png: bytes) -> int:
    """How many different pixel values (colour and alpha) a PNG has."""
    pixels = decode_png(png)
    flat = pixels.array().reshape(-1, pixels.channels)
    padded = np.zeros((len(flat), 4), dtype=np.uint8)  # one 32-bit number a pixel
    padded[:, : pixels.channels] = flat
    return len(np.unique(padded.view(np.uint32)))


def png_is_blank(png: bytes) -> bool:
    """Whether every pixel of a PNG is the same colour (nothing was drawn)."""
    return distinct_colours(png) <= 1
