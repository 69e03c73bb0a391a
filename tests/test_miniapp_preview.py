"""The HTML preview opened in headless Chromium (Debian's, driven by Playwright), as a person
would use it: it loads without console errors, names the first missing required field, posts
the form as JSON to a real loopback server that records what it received, and shows hostile
labels as plain text."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from miniapp.codegen import preview_html
from miniapp.spec import UISpec, field_names
from tests.test_miniapp_codegen import BREAKOUT_LABEL, SCRIPT_LABEL, hostile_spec, leave_request
from tests.test_miniapp_rules import contact_form

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT_PIN = "playwright==1.65.2"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    content_type: str
    body: Any


class FormBackend:
    """A loopback HTTP server standing in for the form's backend. It answers CORS preflights as
    any backend of a browser app must (the preview is a file: page, the backend another
    origin), records every form it receives and answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[Received] = []
        self._condition = threading.Condition()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _cors(self) -> None:
                self.send_header("access-control-allow-origin", "*")
                self.send_header("access-control-allow-methods", "POST, PUT")
                self.send_header("access-control-allow-headers", "content-type")
                self.send_header("access-control-allow-private-network", "true")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.send_header("content-length", "0")
                self.end_headers()

            def _record(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                with backend._condition:
                    backend.received.append(
                        Received(
                            method=self.command,
                            path=self.path,
                            content_type=self.headers.get("content-type", ""),
                            body=json.loads(raw),
                        )
                    )
                    backend._condition.notify_all()
                answer = json.dumps({"ok": backend.status < 400}).encode()
                self.send_response(backend.status)
                self._cors()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = _record
            do_PUT = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/forms/leave"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"the backend received {len(self.received)} of {count} forms")
                self._condition.wait(left)
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def backend() -> Iterator[FormBackend]:
    server = FormBackend()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the preview tests need Playwright: .venv/bin/pip install {PLAYWRIGHT_PIN}")
    if not CHROMIUM.is_file():
        pytest.fail(
            "the preview tests need Debian's Chromium at /usr/bin/chromium: apt-get install "
            "chromium (it is listed in scripts/debian-packages.txt)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@dataclass
class Preview:
    """A browser tab on one preview, with everything that went wrong in it."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def toast(self) -> str:
        from playwright.sync_api import expect

        toast = self.page.locator("#toast")
        expect(toast).to_be_visible()
        return toast.inner_text()


@pytest.fixture
def open_preview(browser: Browser, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context()

    def open_(spec: UISpec, **options: Any) -> Preview:
        path = tmp_path / "preview.html"
        path.write_text(preview_html(spec, **options), encoding="utf-8")
        page = context.new_page()
        preview = Preview(page)
        page.on("console", lambda m: preview.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: preview.errors.append(str(error)))

        def on_dialog(dialog: Any) -> None:
            preview.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path.as_uri())
        return preview

    yield open_
    context.close()


def test_the_preview_names_the_first_missing_field(open_preview: Any, backend: FormBackend) -> None:
    preview = open_preview(leave_request(), endpoint=backend.url)
    page = preview.page

    page.get_by_role("button", name="提交申请").click()
    assert preview.toast() == "请填写「姓名」"
    page.fill("#f-input_3", "李雷")
    page.get_by_role("button", name="提交申请").click()
    assert preview.toast() == "请选择「请假类型」"
    assert page.evaluate("document.activeElement.id") == "f-select_4"
    assert backend.received == []
    assert preview.errors == []


def fill_english(page: Page, names: dict[int, str]) -> None:
    page.fill(f"#f-{names[3]}", "Li Lei")
    page.select_option(f"#f-{names[4]}", "Sick")
    page.fill(f"#f-{names[5]}", "2025-03-03")
    page.fill(f"#f-{names[7]}", "Doctor's appointment")
    page.check(f"#f-{names[8]}")
    page.check(f"#f-{names[9]}-1")
    page.check(f"#f-{names[10]}")


def test_the_preview_posts_the_form_to_the_endpoint(
    open_preview: Any, backend: FormBackend
) -> None:
    spec = leave_request("en", method="PUT")
    names = field_names(spec)
    preview = open_preview(spec, endpoint=backend.url)

    fill_english(preview.page, names)
    preview.page.get_by_role("button", name="Submit").click()

    (received,) = backend.wait_for(1)
    assert received.method == "PUT"
    assert received.path == "/forms/leave"
    assert received.content_type == "application/json"
    assert received.body == {
        "name": "Li Lei",
        "leave_type": "Sick",
        "start_date": "2025-03-03",
        "end_date": "",
        "reason": "Doctor's appointment",
        "i_have_read_the_policy": True,
        "business_trip": "No",
        "notify_my_manager": True,
    }
    assert sorted(received.body) == sorted(names.values())  # the mini-program's field names
    assert preview.toast() == "Submitted"
    assert preview.errors == []
    assert preview.dialogs == []


def test_a_failing_endpoint_is_reported(open_preview: Any, backend: FormBackend) -> None:
    backend.status = 500
    spec = leave_request("en")
    preview = open_preview(spec, endpoint=backend.url)

    fill_english(preview.page, field_names(spec))
    preview.page.get_by_role("button", name="Submit").click()

    backend.wait_for(1)
    assert preview.toast() == "Submit failed, please try again"


def test_without_an_endpoint_the_preview_shows_the_json(open_preview: Any) -> None:
    preview = open_preview(leave_request())
    page = preview.page

    page.fill("#f-input_3", "李雷")
    page.select_option("#f-select_4", "年假")
    page.fill("#f-date_5", "2025-05-01")
    page.check("#f-checkbox_8")
    page.get_by_role("button", name="提交申请").click()

    assert preview.toast() == "未配置提交地址，数据见下方"
    shown = json.loads(page.locator("#result-json").inner_text())
    assert shown["input_3"] == "李雷"
    assert shown["select_4"] == "年假"
    assert shown["date_5"] == "2025-05-01"
    assert shown["checkbox_8"] is True
    assert shown["switch_10"] is False

    page.get_by_role("button", name="重置").click()
    assert page.input_value("#f-input_3") == ""
    assert page.locator("#result").is_hidden()
    page.get_by_role("button", name="我的").click()
    assert page.get_by_role("button", name="我的").get_attribute("class") == "tab tab-active"
    assert preview.errors == []


def test_hostile_labels_show_as_text_and_run_nothing(
    open_preview: Any, backend: FormBackend
) -> None:
    preview = open_preview(hostile_spec(), endpoint=backend.url)
    page = preview.page

    assert page.locator("h1.w-title").inner_text() == SCRIPT_LABEL
    assert page.title() == SCRIPT_LABEL
    assert page.locator("label.choice span").first.inner_text() == "<img src=x onerror=alert(1)>"
    assert page.locator("option").all_inner_texts()[1:] == [SCRIPT_LABEL, BREAKOUT_LABEL]
    assert page.locator("script").count() == 2
    assert page.locator("img").count() == 0

    page.locator("[data-action=submit]").click()
    assert preview.toast() == f"Please fill in \u201c{SCRIPT_LABEL}\u201d"
    page.get_by_role("textbox").first.fill(BREAKOUT_LABEL)
    page.locator("[data-action=submit]").click()

    (received,) = backend.wait_for(1)
    assert BREAKOUT_LABEL in received.body.values()
    assert preview.dialogs == []
    assert preview.errors == []


def test_the_preview_refuses_an_invalid_email_and_sends_a_valid_one(
    open_preview: Any, backend: FormBackend
) -> None:
    spec = contact_form("en")
    names = field_names(spec)
    preview = open_preview(spec, endpoint=backend.url)
    page = preview.page

    page.fill(f"#f-{names[1]}", "Li Lei")
    page.fill(f"#f-{names[2]}", "+44 20 7946 0958")
    page.fill(f"#f-{names[3]}", "li.lei at example.com")
    page.get_by_role("button", name="Submit").click()
    assert preview.toast() == "\u201cEmail\u201d is not a valid email address"
    assert page.evaluate("document.activeElement.id") == f"f-{names[3]}"
    assert backend.received == []

    page.fill(f"#f-{names[3]}", "li.lei@example.com")
    page.get_by_role("button", name="Submit").click()
    (received,) = backend.wait_for(1)
    assert received.body[names[3]] == "li.lei@example.com"
    assert received.body[names[2]] == "+44 20 7946 0958"
    assert preview.toast() == "Submitted"
    assert preview.errors == []


def test_the_preview_checks_a_chinese_mobile_number(open_preview: Any) -> None:
    spec = contact_form("zh")
    names = field_names(spec)
    preview = open_preview(spec)
    page = preview.page

    page.fill(f"#f-{names[1]}", "李雷")
    page.fill(f"#f-{names[2]}", "138123")
    page.get_by_role("button", name="提交").click()
    assert preview.toast() == "「手机号」格式不正确，请输入有效的手机号或电话号码"
    assert page.locator("#result").is_hidden()

    page.fill(f"#f-{names[2]}", "138 1234 5678")
    page.get_by_role("button", name="提交").click()
    assert preview.toast() == "未配置提交地址，数据见下方"
    assert json.loads(page.locator("#result-json").inner_text())[names[2]] == "138 1234 5678"
    assert preview.errors == []
