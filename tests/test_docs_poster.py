"""Posters: the rendered poster's text read back with OCR (title, date and place legible), its
layout inside the canvas and its bytes the same for the same spec; themes and text limits; the
images API backend against a real loopback server that records what it received."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image

from docs_gen.errors import DocumentError
from docs_gen.fonts import load_font
from docs_gen.poster import (
    DATE_MAX_CHARS,
    HIGHLIGHT_MAX_CHARS,
    MAX_HIGHLIGHTS,
    ORGANIZER_MAX_CHARS,
    PLACE_MAX_CHARS,
    RENDERED_LABELS,
    SUBTITLE_MAX_CHARS,
    THEME_ALIASES,
    THEMES,
    TITLE_MAX_CHARS,
    TITLE_MAX_LINES,
    OpenAIImagesBackend,
    PosterError,
    PosterLayout,
    PosterSpec,
    RenderedPosterBackend,
    poster_prompt,
    resolve_theme,
    wrap_text,
)

ZH_SPEC = PosterSpec(
    title="2026 年度技术分享大会",
    subtitle="AI 与办公自动化的下一步",
    date="2026年12月18日 14:00",
    place="上海市浦东新区张江科学会堂 3 楼报告厅",
    highlights=("大模型在办公场景的落地实践", "会议纪要与待办自动生成", "现场演示与自由交流"),
    organizer="研发中心效率工具组",
    theme="科技蓝",
    language="zh",
)
EN_SPEC = PosterSpec(
    title="Quarterly Product Showcase",
    subtitle="What we shipped and what comes next",
    date="Fri 18 Dec, 2pm",
    place="Room 301, Building B",
    highlights=("Live demos from every team", "Roadmap for next quarter", "Pizza and open Q&A"),
    organizer="Product Team",
    theme="orange",
    language="en",
)


def at_limit(text: str, limit: int) -> str:
    """``text`` repeated and cut to exactly ``limit`` characters."""
    return (text * (limit // len(text) + 1))[:limit].strip().ljust(limit, "!")


# Every field at its limit.
LONGEST_ZH = PosterSpec(
    title=at_limit(
        "关于进一步加强和改进全体员工信息安全意识培训暨年度数据合规专项检查工作动员部署大会",
        TITLE_MAX_CHARS,
    ),
    subtitle=at_limit("副标题，", SUBTITLE_MAX_CHARS),
    date=at_limit("2026年12月18日（星期五）下午 14:00 至 17:30", DATE_MAX_CHARS),
    place=at_limit(
        "上海市浦东新区张江高科技园区科学会堂一号楼三楼第二报告厅东侧入口处", PLACE_MAX_CHARS
    ),
    highlights=(at_limit("第一项亮点内容写得很长很长", HIGHLIGHT_MAX_CHARS),) * MAX_HIGHLIGHTS,
    organizer=at_limit(
        "信息安全与数据合规管理委员会办公室联合人力资源部培训中心", ORGANIZER_MAX_CHARS
    ),
    theme="暗夜",
)
LONGEST_EN = PosterSpec(
    title=at_limit("Extraordinarily Comprehensive Internationalization Workshop ", TITLE_MAX_CHARS),
    subtitle=at_limit("A very long subtitle that keeps going on and on ", SUBTITLE_MAX_CHARS),
    date=at_limit("Friday 18 December 2026, 2pm to 5:30pm ", DATE_MAX_CHARS),
    place=at_limit("Conference Room 301, Building B, 1 Example Road ", PLACE_MAX_CHARS),
    highlights=(at_limit("A fairly long highlight, and more words ", HIGHLIGHT_MAX_CHARS),)
    * MAX_HIGHLIGHTS,
    organizer=at_limit("The Product and Engineering Teams ", ORGANIZER_MAX_CHARS),
    theme="purple",
    language="en",
)
API_KEY = "sk-test-secret-0123456789"
GENERATIONS = "/v1/images/generations"


def letters(text: str) -> str:
    """``text`` as OCR is compared: compatibility forms folded, lower case, no spaces or
    punctuation."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def in_order_share(expected: str, read: str) -> float:
    """How much of ``expected`` appears in ``read`` in order (longest common subsequence)."""
    want, got = letters(expected), letters(read)
    row = [0] * (len(got) + 1)
    for char in want:
        previous = 0
        for index, other in enumerate(got, start=1):
            previous, row[index] = (
                row[index],
                previous + 1 if char == other else max(row[index], row[index - 1]),
            )
    return row[-1] / len(want)


# --- the rendered poster, read back ------------------------------------------------------------


@pytest.fixture(scope="module")
def read_text() -> Callable[[bytes], str]:
    """OCR (RapidOCR, PP-OCR Chinese and English, models in the wheel), loaded once."""
    rapidocr = pytest.importorskip("rapidocr", reason="the ocr extra is not installed")
    engine = rapidocr.RapidOCR(params={"Global.log_level": "warning"})

    def read(png: bytes) -> str:
        return "\n".join(engine(png).txts or ())

    return read


@pytest.fixture(scope="module")
def renderer() -> RenderedPosterBackend:
    return RenderedPosterBackend()


@pytest.mark.slow
@pytest.mark.parametrize("spec", [ZH_SPEC, EN_SPEC], ids=["zh", "en"])
def test_the_rendered_poster_reads_back_with_ocr(
    spec: PosterSpec, renderer: RenderedPosterBackend, read_text: Callable[[bytes], str]
) -> None:
    poster = renderer.create(spec)
    text = read_text(poster.png)
    assert in_order_share(spec.title, text) >= 0.9, text
    assert letters(spec.date) in letters(text), text
    assert letters(spec.place) in letters(text), text
    for highlight in spec.highlights:
        assert in_order_share(highlight, text) >= 0.8, (highlight, text)
    # the footer says what it is, legibly
    assert in_order_share(RENDERED_LABELS[spec.language], text) >= 0.8, text


def test_a_rendered_poster_says_what_it_is(renderer: RenderedPosterBackend) -> None:
    poster = renderer.create(ZH_SPEC)
    assert (poster.source, poster.backend) == ("rendered", "local")
    assert poster.label == "排版海报（本地渲染，非 AI 生成图片）"
    assert renderer.create(EN_SPEC).label.startswith("Rendered poster")
    with Image.open(io.BytesIO(poster.png)) as image:
        assert (image.format, image.size) == ("PNG", (1080, 1528))
        assert (poster.width, poster.height) == image.size
    assert "png" not in repr(poster)


def test_the_same_spec_gives_the_same_bytes(renderer: RenderedPosterBackend) -> None:
    first = renderer.create(EN_SPEC).png
    assert RenderedPosterBackend().create(EN_SPEC).png == first
    # the shapes move with the title
    other = RenderedPosterBackend().create(PosterSpec(title="Quarterly Product Showcase!"))
    assert other.png != first


def assert_inside(layout: PosterLayout) -> None:
    boxes = [text.box for text in layout.texts]
    for text in layout.texts:
        left, top, right, bottom = text.box
        assert 0 <= left < right <= layout.width, text
        assert 0 <= top < bottom <= layout.height, text
    for index, (left, top, right, bottom) in enumerate(boxes):
        for other in boxes[index + 1 :]:
            apart = right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top
            assert apart, (layout.texts[index], other)


@pytest.mark.parametrize(
    "spec", [ZH_SPEC, EN_SPEC, LONGEST_ZH, LONGEST_EN], ids=["zh", "en", "longest-zh", "longest-en"]
)
def test_every_line_lies_inside_the_canvas(
    spec: PosterSpec, renderer: RenderedPosterBackend
) -> None:
    layout = renderer.layout(spec)
    assert_inside(layout)
    title = layout.lines("title")
    assert 1 <= len(title) <= TITLE_MAX_LINES
    joiner = "" if spec.language == "zh" else " "
    assert joiner.join(title) == spec.title, "the title was cut"
    assert joiner.join(layout.lines("footer")) == RENDERED_LABELS[spec.language]
    assert not any(text.text.endswith("…") for text in layout.texts)


def test_a_60_character_title_fits_in_three_lines(renderer: RenderedPosterBackend) -> None:
    assert len(LONGEST_ZH.title) == TITLE_MAX_CHARS
    layout = renderer.layout(LONGEST_ZH)
    assert len(layout.lines("title")) == TITLE_MAX_LINES
    assert "".join(layout.lines("title")) == LONGEST_ZH.title
    poster = renderer.create(LONGEST_ZH)
    assert (poster.width, poster.height) == (1080, 1528)


@pytest.mark.parametrize("size", [(1080, 1080), (480, 640), (2000, 2829)])
def test_other_canvas_sizes_keep_the_text_inside(size: tuple[int, int]) -> None:
    width, height = size
    layout = RenderedPosterBackend(width=width, height=height).layout(LONGEST_EN)
    assert (layout.width, layout.height) == size
    assert_inside(layout)


def test_lines_break_between_words_and_cjk_characters() -> None:
    font = load_font(40)
    english = wrap_text("Quarterly Product Showcase and Party", font, 400)
    assert " ".join(english) == "Quarterly Product Showcase and Party"
    assert all(font.getbbox(line)[2] <= 400 for line in english)
    assert set(" ".join(english).split()) == {"Quarterly", "Product", "Showcase", "and", "Party"}
    chinese = wrap_text("年度技术分享大会，欢迎参加！", font, 200)
    assert "".join(chinese) == "年度技术分享大会，欢迎参加！"
    assert len(chinese) > 2
    assert not any(line[0] in "，！" for line in chinese)
    # a word wider than the line breaks inside
    assert len(wrap_text("Internationalization", font, 150)) > 1


def test_control_characters_are_removed(renderer: RenderedPosterBackend) -> None:
    layout = renderer.layout(
        PosterSpec(
            title="季度\x00总结\u202e大会", subtitle="第一行\n第二行\t\x07", date="\u200b周五"
        )
    )
    assert layout.lines("title") == ["季度总结大会"]
    assert layout.lines("subtitle") == ["第一行 第二行"]
    assert layout.lines("date") == ["周五"]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (PosterSpec(title="标" * (TITLE_MAX_CHARS + 1)), "limit is 60"),
        (PosterSpec(title="t", subtitle="s" * (SUBTITLE_MAX_CHARS + 1)), "limit is 80"),
        (PosterSpec(title="t", highlights=("亮" * (HIGHLIGHT_MAX_CHARS + 1),)), "limit is 40"),
        (PosterSpec(title="t", highlights=("a", "b", "c", "d", "e")), "room for 4 highlights"),
        (PosterSpec(title=" \x00\n "), "needs a title"),
    ],
    ids=["title", "subtitle", "highlight", "highlights", "empty-title"],
)
def test_text_over_its_limit_is_refused(
    spec: PosterSpec, says: str, renderer: RenderedPosterBackend
) -> None:
    with pytest.raises(PosterError, match=says):
        renderer.create(spec)


# --- themes ------------------------------------------------------------------------------------


def test_themes_resolve_by_name_and_chinese_alias() -> None:
    assert set(THEMES) >= {"blue", "orange", "green", "purple", "red", "dark"}
    expected = {"科技蓝": "blue", "活力橙": "orange", "清新绿": "green"}
    expected |= {"典雅紫": "purple", "喜庆红": "red", "暗夜": "dark"}
    for alias, key in expected.items():
        assert resolve_theme(alias) == key
        assert THEMES[key].name_zh == alias
    assert all(key in THEMES for key in THEME_ALIASES.values())
    assert resolve_theme(" Blue ") == "blue"
    assert resolve_theme("") == "blue"


def test_an_unknown_theme_lists_the_available_ones(renderer: RenderedPosterBackend) -> None:
    with pytest.raises(PosterError) as caught:
        renderer.create(PosterSpec(title="年会", theme="粉红"))
    assert isinstance(caught.value, DocumentError)
    assert caught.value.code == "docs_poster"
    message = caught.value.message
    assert "粉红" in message
    for key, theme in THEMES.items():
        assert key in message
        assert theme.name_zh in message


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""

    def luminance(colour: tuple[int, int, int]) -> float:
        channels = [v / 255 for v in colour]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("key", list(THEMES))
def test_theme_text_contrasts_with_what_it_sits_on(key: str) -> None:
    theme = THEMES[key]
    body = [
        (theme.ink, theme.top),
        (theme.ink, theme.bottom),
        (theme.ink, theme.chip),
        (theme.ink_soft, theme.top),
        (theme.ink_soft, theme.bottom),
        (theme.panel_ink, theme.panel),
        (theme.panel_muted, theme.panel),
        (theme.accent_ink, theme.accent),
    ]
    for text, ground in body:
        assert contrast(text, ground) >= 4.5, (key, text, ground)
    # the accent colours only large bold text (the highlights heading): WCAG's 3:1
    assert contrast(theme.accent, theme.bottom) >= 3.0


# --- an OpenAI-compatible images API -----------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    declare_length: bool = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out has hung up; that is the point of the test


class FakeImagesAPI:
    """A loopback images API: answers each path as scripted and records every request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self.held: set[str] = set()
        self.release = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                api.received.append(Received(self.command, self.path, headers, body))
                if self.path in api.held:
                    api.release.wait(10)
                missing = Answer(b'{"error": {"message": "no such route"}}', status=404)
                answer = api.answers.get(self.path, missing)
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                if answer.declare_length:
                    self.send_header("content-length", str(len(answer.body)))
                else:
                    self.send_header("connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> FakeImagesAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def images_api() -> Iterator[FakeImagesAPI]:
    api = FakeImagesAPI().start()
    yield api
    api.stop()


def picture(kind: str = "PNG", size: tuple[int, int] = (64, 96)) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def generated(payload: Any, **answer: Any) -> Answer:
    return Answer(json.dumps(payload).encode(), **answer)


def b64_answer(data: bytes) -> Answer:
    return generated({"created": 1, "data": [{"b64_json": base64.b64encode(data).decode()}]})


def backend_for(api: FakeImagesAPI, **options: Any) -> OpenAIImagesBackend:
    options = {"api_key": API_KEY, "model": "poster-model", **options}
    return OpenAIImagesBackend(base_url=api.url + "/v1", **options)


def test_the_images_api_is_asked_for_a_picture(images_api: FakeImagesAPI) -> None:
    images_api.answers[GENERATIONS] = b64_answer(picture("JPEG"))
    with backend_for(images_api) as backend:
        poster = backend.create(ZH_SPEC)
    (request,) = images_api.received
    assert (request.method, request.path) == ("POST", GENERATIONS)
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.body) == {
        "model": "poster-model",
        "prompt": poster_prompt(ZH_SPEC),
        "size": "1024x1792",
        "n": 1,
        "response_format": "b64_json",
    }
    assert (poster.source, poster.backend) == ("generated", "poster-model")
    assert poster.label == "AI 生成图片（poster-model）"
    with Image.open(io.BytesIO(poster.png)) as image:
        assert (image.format, image.size) == ("PNG", (64, 96))
    assert (poster.width, poster.height) == (64, 96)
    assert API_KEY not in repr(backend)


def test_the_prompt_names_the_text_and_colours_in_the_spec_language() -> None:
    chinese = poster_prompt(ZH_SPEC)
    for text in (ZH_SPEC.title, ZH_SPEC.date, ZH_SPEC.place, *ZH_SPEC.highlights):
        assert text in chinese
    assert "海报" in chinese
    assert THEMES["blue"].palette_zh in chinese
    assert "清晰" in chinese
    english = poster_prompt(EN_SPEC)
    assert f'"{EN_SPEC.title}"' in english
    for text in (EN_SPEC.date, EN_SPEC.place, *EN_SPEC.highlights, EN_SPEC.organizer):
        assert text in english
    assert THEMES["orange"].palette_en in english
    assert "legible" in english


def test_a_picture_url_on_the_api_host_is_fetched(images_api: FakeImagesAPI) -> None:
    images_api.answers["/files/p.webp"] = Answer(picture("WEBP"), content_type="image/webp")
    images_api.answers[GENERATIONS] = generated(
        {"data": [{"url": images_api.url + "/files/p.webp"}]}
    )
    with backend_for(images_api) as backend:
        poster = backend.create(EN_SPEC)
    assert [(r.method, r.path) for r in images_api.received] == [
        ("POST", GENERATIONS),
        ("GET", "/files/p.webp"),
    ]
    assert "authorization" not in images_api.received[1].headers
    assert poster.label == "Generated picture (poster-model)"
    assert (poster.width, poster.height) == (64, 96)


def test_a_picture_url_elsewhere_is_not_fetched(images_api: FakeImagesAPI) -> None:
    elsewhere = f"http://localhost:{images_api.port}/files/p.png"
    images_api.answers[GENERATIONS] = generated({"data": [{"url": elsewhere}]})
    with backend_for(images_api) as backend, pytest.raises(PosterError, match="only from"):
        backend.create(EN_SPEC)
    assert len(images_api.received) == 1


def test_an_api_error_says_what_the_api_said(images_api: FakeImagesAPI) -> None:
    error = {"error": {"message": "the image service is overloaded", "type": "server_error"}}
    images_api.answers[GENERATIONS] = generated(error, status=500)
    with backend_for(images_api) as backend, pytest.raises(PosterError) as caught:
        backend.create(ZH_SPEC)
    assert "HTTP 500" in str(caught.value)
    assert "the image service is overloaded" in str(caught.value)


def test_the_api_key_never_shows(
    images_api: FakeImagesAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = {"error": {"message": f"Incorrect API key provided: {API_KEY}"}}
    images_api.answers[GENERATIONS] = generated(error, status=401)
    with backend_for(images_api) as backend, pytest.raises(PosterError) as caught:
        backend.create(ZH_SPEC)
    assert "check the API key" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in caplog.text


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b64_answer(b"this is not a picture at all"), "readable PNG, JPEG or WebP"),
        (b64_answer(picture("GIF")), "readable PNG, JPEG or WebP"),
        (b64_answer(picture()[:200]), "readable PNG, JPEG or WebP"),
        (generated({"data": [{"b64_json": "%%% not base64 %%%"}]}), "not base64"),
        (Answer(b"<html>hello</html>", content_type="text/html"), "did not answer JSON"),
        (generated({"data": []}), "without a picture"),
    ],
    ids=["not-an-image", "gif", "truncated-png", "bad-base64", "html", "no-data"],
)
def test_an_answer_that_is_not_a_picture_is_refused(
    answer: Answer, says: str, images_api: FakeImagesAPI
) -> None:
    images_api.answers[GENERATIONS] = answer
    with backend_for(images_api) as backend, pytest.raises(PosterError, match=says):
        backend.create(ZH_SPEC)


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "streamed"])
def test_an_oversized_answer_is_refused(declare_length: bool, images_api: FakeImagesAPI) -> None:
    answer = b64_answer(picture())
    images_api.answers[GENERATIONS] = Answer(
        answer.body + b" " * 60_000, declare_length=declare_length
    )
    with (
        backend_for(images_api, max_bytes=50_000) as backend,
        pytest.raises(PosterError, match="limit"),
    ):
        backend.create(ZH_SPEC)


def test_a_picture_with_too_many_pixels_is_refused(images_api: FakeImagesAPI) -> None:
    images_api.answers[GENERATIONS] = b64_answer(picture(size=(64, 96)))
    with (
        backend_for(images_api, max_pixels=64 * 95) as backend,
        pytest.raises(PosterError, match="64x96 picture; the limit is 6080 pixels"),
    ):
        backend.create(ZH_SPEC)


def test_a_silent_api_times_out(images_api: FakeImagesAPI) -> None:
    images_api.held.add(GENERATIONS)
    with (
        backend_for(images_api, timeout_s=0.3) as backend,
        pytest.raises(PosterError, match=r"did not answer within 0\.3 s"),
    ):
        backend.create(ZH_SPEC)


def test_an_unreachable_api_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    with (
        OpenAIImagesBackend(base_url=base_url, api_key=API_KEY) as backend,
        pytest.raises(PosterError, match="cannot reach"),
    ):
        backend.create(ZH_SPEC)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"base_url": "ftp://images.example.com/v1"}, "http"),
        ({"size": "huge"}, "1024x1792"),
        ({"model": " "}, "model name"),
    ],
)
def test_a_misconfigured_images_api_is_refused(options: dict[str, Any], says: str) -> None:
    settings = {"base_url": "https://images.example.com/v1", "api_key": API_KEY, **options}
    with pytest.raises(PosterError, match=says):
        OpenAIImagesBackend(**settings)
