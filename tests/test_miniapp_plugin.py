"""Sketch to mini-app end to end, against a running bot, the fake DingTalk (robot and open API)
and the real OCR: a picture sent to the robot is fetched by its downloadCode and read; the bot
posts the outline and a numbered preview; /小程序 edits change it; /小程序 生成 posts links to the
zip, the preview and the spec. The API uploads, edits and builds the same way, refuses bad
pictures and edits with reasons, and keeps tenants apart."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.settings import Settings
from tests.conftest import API_TOKEN, APP_SECRET, dingtalk_message, post_dingtalk
from tests.support.fake_dingtalk import FakeDingTalk, Recorded
from tests.support.fake_dingtalk_api import FakeDingTalkApi
from tests.support.live_server import LiveServer, await_job, download, job_id_of
from tests.support.sketches import draw_sketch

pytest.importorskip("rapidocr")

AUTH = {"authorization": f"Bearer {API_TOKEN}"}
APP_KEY = "dingminiappkey"
CORP = "dingcorp1"
TENANT = f"dingtalk:{CORP}"
CHAT = "cidMiniappDirect=="


@pytest.fixture
def api() -> Iterator[FakeDingTalkApi]:
    fake = FakeDingTalkApi(APP_KEY, APP_SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def make_server(
    start_server: Callable[..., LiveServer],
    make_settings: Callable[..., Settings],
    api: FakeDingTalkApi,
) -> Callable[..., LiveServer]:
    def start(**miniapp: Any) -> LiveServer:
        settings = make_settings(
            dingtalk_app_key=APP_KEY,
            dingtalk_api_base=api.base_url,
            dingtalk_file_hosts=["127.0.0.1"],
            plugins={"miniapp": {"model_names": False, **miniapp}},
        )
        return start_server(settings)

    return start


def send(server: LiveServer, fake: FakeDingTalk, **message: Any) -> httpx.Response:
    now_ms = int(time.time() * 1000)
    body = dingtalk_message(
        "",
        conversationId=CHAT,
        conversationType="1",
        senderNick="李娜",
        chatbotCorpId=CORP,
        senderCorpId=CORP,
        robotCode="dingrobot01",
        sessionWebhook=fake.session_url(),
        sessionWebhookExpiredTime=now_ms + 3_600_000,
    )
    body.update(message)
    response = post_dingtalk(server, body)
    assert response.status_code == 200, response.text
    return response


def send_picture(server: LiveServer, fake: FakeDingTalk, code: str, **message: Any) -> None:
    send(
        server,
        fake,
        msgtype="picture",
        content={"downloadCode": code, "pictureDownloadCode": f"p-{code}"},
        **message,
    )


def say(server: LiveServer, fake: FakeDingTalk, text: str) -> str:
    data = send(server, fake, text={"content": text}).json()
    return str(data.get("text", {}).get("content") or data.get("markdown", {}).get("text") or "")


def posted_text(request: Recorded) -> str:
    body = request.body
    return str(body.get("markdown", {}).get("text") or body.get("text", {}).get("content"))


def widget_number(outline: str, label: str) -> int:
    match = re.search(rf"^(\d+)\\?\. [^\n]*「{re.escape(label)}」", outline, re.M)
    assert match, outline
    return int(match[1])


def test_a_picture_in_chat_becomes_an_outline_edits_and_a_mini_program(
    make_server: Callable[..., LiveServer], fake_dingtalk: FakeDingTalk, api: FakeDingTalkApi
) -> None:
    server = make_server()
    api.files["dl-leave"] = draw_sketch("leave_request", seed=21, style="paper").png()
    send_picture(server, fake_dingtalk, "dl-leave")
    [accepted] = fake_dingtalk.wait_for(1)
    assert "收到草图，正在识别" in posted_text(accepted)
    job = await_job(server, job_id_of(posted_text(accepted)))
    assert job["state"] == "succeeded", job
    [call] = api.calls_to("/v1.0/robot/messageFiles/download")
    assert call.body == {"downloadCode": "dl-leave", "robotCode": "dingrobot01"}

    _, parsed = fake_dingtalk.wait_for(2)
    outline = posted_text(parsed)
    assert outline.startswith("#### 识别到 ")
    assert "标题「请假申请」" in outline
    assert "下拉框「请假类型」" in outline
    assert "/小程序 生成" in outline
    preview = re.search(r"!\[预览\]\(([^)]+)\)", outline)
    assert preview is not None
    picture = Image.open(io.BytesIO(download(preview[1], server)))
    assert picture.format == "PNG"
    assert picture.width > picture.height / 2  # the annotated sketch beside the layout

    submit = widget_number(outline, "提交")
    changed = say(server, fake_dingtalk, f"/小程序 改名 {submit} 提交申请")
    assert f"{submit}\\. 按钮「提交申请」" in changed
    days = widget_number(outline, "请假天数")
    changed = say(server, fake_dingtalk, f"/小程序 必填 {days}")
    assert "「请假天数」" in changed
    assert "（必填" in changed
    refused = say(server, fake_dingtalk, "/小程序 改名 99 新名字")
    assert refused.startswith("没有修改：")
    assert "there is no widget 99" in refused
    assert "没有修改" in say(server, fake_dingtalk, "/小程序 类型 2 滑块")

    accepted_build = say(server, fake_dingtalk, "/小程序 生成")
    assert "正在生成小程序" in accepted_build
    assert await_job(server, job_id_of(accepted_build))["state"] == "succeeded"
    *_, built = fake_dingtalk.wait_for(3)
    text = posted_text(built)
    assert text.startswith("#### 小程序已生成")
    links = dict(re.findall(r"\[([^\]]+)\]\((/files/[^)]+)\)", text))
    bundle = zipfile.ZipFile(io.BytesIO(download(links["小程序代码（zip）"], server)))
    names = set(bundle.namelist())
    assert {"miniprogram/app.json", "miniprogram/app.js", "preview.html", "spec.json"} <= names
    assert "miniprogram/pages/index/index.axml" in names
    assert "提交申请" in bundle.read("miniprogram/pages/index/index.axml").decode()
    spec = json.loads(bundle.read("spec.json"))
    assert spec["version"] == 1
    assert all({"type", "label", "bbox"} <= set(w) for w in spec["widgets"])
    required = [w for w in spec["widgets"] if w["label"] == "请假天数"]
    assert required
    assert required[0]["required"] is True
    page = download(links["HTML 预览"], server).decode()
    assert "<script>alert" not in page
    assert "提交申请" in page

    shown = say(server, fake_dingtalk, "/小程序")
    assert "当前草图" in shown
    assert "按钮「提交申请」" in shown


def test_an_expired_download_code_and_a_non_picture_are_answered(
    make_server: Callable[..., LiveServer], fake_dingtalk: FakeDingTalk, api: FakeDingTalkApi
) -> None:
    server = make_server()
    send_picture(server, fake_dingtalk, "never-issued")
    [accepted] = fake_dingtalk.wait_for(1)
    assert await_job(server, job_id_of(posted_text(accepted)))["state"] == "failed"
    _, answer = fake_dingtalk.wait_for(2)
    assert "草图没能识别" in posted_text(answer)
    assert "send the file again" in posted_text(answer)

    api.files["dl-text"] = b"name,amount\nlunch,12\n"
    send_picture(server, fake_dingtalk, "dl-text")
    *_, accepted = fake_dingtalk.wait_for(3)
    assert await_job(server, job_id_of(posted_text(accepted)))["state"] == "failed"
    *_, answer = fake_dingtalk.wait_for(4)
    assert "PNG, JPEG" in posted_text(answer)
    # the failed sketch is this conversation's current one: /小程序 says so
    assert "没能识别" in say(server, fake_dingtalk, "/小程序")


def test_pictures_are_read_only_when_meant_for_the_bot(
    make_server: Callable[..., LiveServer], fake_dingtalk: FakeDingTalk, api: FakeDingTalkApi
) -> None:
    server = make_server()
    send_picture(server, fake_dingtalk, "x", conversationType="2", isInAtList=False)
    quiet = make_server(read_pictures=False)
    send_picture(quiet, fake_dingtalk, "y")
    usage = say(server, fake_dingtalk, "/miniapp")
    assert "Send me a photo or screenshot" in usage
    assert fake_dingtalk.requests == []
    assert api.calls == []


def _upload(server: LiveServer, data: bytes, tenant: str = "acme", **fields: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/miniapps",
        files={"file": ("sketch.png", data, "image/png")},
        data={"tenant": tenant, **fields},
        headers=AUTH,
        timeout=30,
    )


def test_the_api_reads_edits_and_builds_and_keeps_tenants_apart(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server()
    created = _upload(server, draw_sketch("sign_up", seed=22, style="clean", language="en").png())
    assert created.status_code == 202, created.text
    app = created.json()
    assert app["status"] == "queued"
    assert await_job(server, app["job_id"])["state"] == "succeeded"
    url = f"{server.url}/api/miniapps/{app['id']}"
    view = httpx.get(url, params={"tenant": "acme"}, headers=AUTH).json()
    assert view["status"] == "ready"
    assert 'Title "Create account"' in view["outline"]
    widgets = view["spec"]["widgets"]
    assert all(w["bbox"][2] > 0 for w in widgets)
    phone = next(w["id"] for w in widgets if w["label"] == "Phone")
    assert httpx.get(url, params={"tenant": "other"}, headers=AUTH).status_code == 404

    edits = [
        {"op": "rename", "id": phone, "label": "Mobile"},
        {"op": "required", "id": phone},
        {"op": "title", "title": "Join us"},
    ]
    edited = httpx.post(
        f"{url}/edits", params={"tenant": "acme"}, json={"edits": edits}, headers=AUTH
    )
    assert edited.status_code == 200, edited.text
    assert f'{phone}. Input "Mobile" (required' in edited.json()["outline"]
    assert edited.json()["revision"] == 1
    bad = httpx.post(
        f"{url}/edits",
        params={"tenant": "acme"},
        json={"edits": [{"op": "rename", "id": phone, "label": "X"}, {"op": "remove", "id": 999}]},
        headers=AUTH,
    )
    assert bad.status_code == 422
    assert "edit 2 (remove): there is no widget 999" in bad.json()["error"]["message"]
    unchanged = httpx.get(url, params={"tenant": "acme"}, headers=AUTH).json()
    assert 'Input "Mobile"' in unchanged["outline"]  # all or nothing
    unknown = httpx.post(
        f"{url}/edits", params={"tenant": "acme"}, json={"edits": [{"op": "paint"}]}, headers=AUTH
    )
    assert unknown.status_code == 422
    assert "rename, retype" in json.dumps(unknown.json())

    build = httpx.post(f"{url}/build", params={"tenant": "acme"}, headers=AUTH)
    assert build.status_code == 202
    assert await_job(server, build.json()["job_id"])["state"] == "succeeded"
    files = httpx.get(url, params={"tenant": "acme"}, headers=AUTH).json()["files"]
    assert {"wireframe", "bundle", "preview", "spec"} <= set(files)
    bundle = zipfile.ZipFile(io.BytesIO(download(files["bundle"]["url"], server)))
    assert json.loads(bundle.read("miniprogram/app.json"))["window"]["defaultTitle"] == "Join us"

    spec = json.loads(bundle.read("spec.json"))
    spec["widgets"][0]["label"] = "<script>alert(1)</script>"
    put = httpx.put(f"{url}/spec", params={"tenant": "acme"}, json=spec, headers=AUTH)
    assert put.status_code == 200
    spec["widgets"][0]["type"] = "slider"
    refused = httpx.put(f"{url}/spec", params={"tenant": "acme"}, json=spec, headers=AUTH)
    assert refused.status_code == 422
    assert "widgets.0.type" in refused.json()["error"]["message"]
    listed = httpx.get(f"{server.url}/api/miniapps", params={"tenant": "acme"}, headers=AUTH)
    assert [a["id"] for a in listed.json()["miniapps"]] == [app["id"]]


def test_bad_uploads_are_refused_with_what_is_accepted(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(max_image_bytes=200_000)
    text = _upload(server, b"just some text, not a picture")
    assert text.status_code == 422
    assert "PNG, JPEG" in text.json()["error"]["message"]
    assert _upload(server, b"").status_code == 422
    large = _upload(server, b"\x89PNG\r\n\x1a\n" + b"0" * 400_000)
    assert large.status_code == 413
    no_file = httpx.post(f"{server.url}/api/miniapps", data={"tenant": "a"}, headers=AUTH)
    assert no_file.status_code in (415, 422)
    wrong = httpx.post(
        f"{server.url}/api/miniapps", content=b"x", headers={**AUTH, "content-type": "text/plain"}
    )
    assert wrong.status_code == 415
    spec = httpx.post(
        f"{server.url}/api/miniapps", json={"tenant": "a", "spec": {"version": 2}}, headers=AUTH
    )
    assert spec.status_code == 422
    assert httpx.get(f"{server.url}/api/miniapps", headers=AUTH).json() == {"miniapps": []}


def test_retention_deletes_old_sketches_with_their_files(
    make_server: Callable[..., LiveServer],
) -> None:
    from dataclasses import dataclass
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from bot.storage.models import PluginRecord
    from miniapp.config import MiniappSettings
    from plugins.builtin.miniapp import retention

    server = make_server()
    runtime = server.runtime  # type: ignore[attr-defined]
    spec = {
        "version": 1,
        "page": {"title": "旧草图"},
        "image": {"width": 100, "height": 100},
        "widgets": [{"id": 1, "type": "input", "label": "姓名", "bbox": [5, 5, 80, 20]}],
    }
    old, new = (
        httpx.post(
            f"{server.url}/api/miniapps", json={"tenant": "acme", "spec": spec}, headers=AUTH
        ).json()
        for _ in range(2)
    )
    preview = old["files"]["wireframe"]["url"]
    assert httpx.get(f"{server.url}{preview}").status_code == 200
    with runtime.services._engine.begin() as connection:
        connection.execute(
            update(PluginRecord)
            .where(PluginRecord.key == old["id"])
            .values(updated_at=datetime.now(UTC) - timedelta(days=31))
        )

    @dataclass
    class Context:
        config: MiniappSettings
        records: Any
        services: Any
        schedule_id: str = "miniapp:retention"
        payload: Any = None

    context = Context(MiniappSettings(), runtime.services.records_for("miniapp"), runtime.services)
    server.call(retention(context))
    listed = httpx.get(f"{server.url}/api/miniapps", params={"tenant": "acme"}, headers=AUTH)
    assert [a["id"] for a in listed.json()["miniapps"]] == [new["id"]]
    assert httpx.get(f"{server.url}{preview}").status_code == 404
    kept = new["files"]["wireframe"]["url"]
    assert httpx.get(f"{server.url}{kept}").status_code == 200
