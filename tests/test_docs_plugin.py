"""Documents end to end, against a running bot, the fake DingTalk and the real (fast) model:
/策划 streams each section to the group as it is written and then links the .docx and the
Markdown (downloadable without a token); /策划 修改 rewrites one section; /文档 lists what was
made here; /海报 posts a rendered poster; the API queues documents and posters and keeps
tenants apart; bad requests get clear answers."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import docx
import httpx
import pytest
from PIL import Image

from bot.settings import Settings
from tests.conftest import API_TOKEN, dingtalk_message, post_dingtalk
from tests.support.fake_dingtalk import FakeDingTalk, Recorded
from tests.support.live_server import LiveServer, await_job, download, job_id_of

AUTH = {"authorization": f"Bearer {API_TOKEN}"}
GROUP = "cidDocsGroup=="
CORP = "dingcorp1"
TENANT = f"dingtalk:{CORP}"


@pytest.fixture
def docs_server(
    start_server: Callable[..., LiveServer], make_settings: Callable[..., Settings]
) -> LiveServer:
    settings = make_settings(dingtalk_robot_conversation_id=GROUP)
    return start_server(settings)


def say(server: LiveServer, fake: FakeDingTalk, text: str) -> str:
    now_ms = int(time.time() * 1000)
    body = dingtalk_message(
        text,
        conversationId=GROUP,
        senderNick="王强",
        senderStaffId="staff001",
        chatbotCorpId=CORP,
        senderCorpId=CORP,
        isInAtList=True,
        sessionWebhook=fake.session_url(),
        sessionWebhookExpiredTime=now_ms + 3_600_000,
    )
    response = post_dingtalk(server, body)
    assert response.status_code == 200, response.text
    data = response.json()
    return str(data.get("text", {}).get("content") or data.get("markdown", {}).get("text") or "")


def markdown(request: Recorded) -> str:
    assert request.body["msgtype"] == "markdown", request.body
    return str(request.body["markdown"]["text"])


def test_plan_streams_sections_then_links_the_document_and_revises(
    docs_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    accepted = say(
        docs_server,
        fake_dingtalk,
        "/策划 会议策划 下周一上午10点开1个半小时的季度复盘会，产品、研发和市场负责人参加",
    )
    assert "正在起草会议策划（5 节）" in accepted
    job = await_job(docs_server, job_id_of(accepted))
    assert job["state"] == "succeeded", job
    posted = fake_dingtalk.wait_for(6, timeout=30)
    sections = [markdown(r) for r in posted[:5]]
    assert sections[0].startswith("## ")  # the title comes with the first section
    for text, heading in zip(
        sections, ["会议目的", "参会人员", "会议议程", "会前材料", "需要做出的决定"], strict=True
    ):
        assert f"### {heading}" in text
    assert "10:00–" in sections[2]
    assert "11:30" in sections[2]
    final = markdown(posted[5])
    links = dict(re.findall(r"\[(Word 文档|Markdown)\]\(([^)]+)\)", final))
    assert set(links) == {"Word 文档", "Markdown"}
    document = docx.Document(io.BytesIO(download(links["Word 文档"], docs_server)))
    headings = [p.text for p in document.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == ["会议目的", "参会人员", "会议议程", "会前材料", "需要做出的决定"]
    assert "# " in download(links["Markdown"], docs_server).decode()

    revised = say(docs_server, fake_dingtalk, "/策划 修改 议程 增加一个十分钟的茶歇")
    assert "正在修改" in revised
    assert "「会议议程」" in revised
    assert await_job(docs_server, job_id_of(revised))["state"] == "succeeded"
    [*_, change] = fake_dingtalk.wait_for(7, timeout=30)
    assert "### 会议议程" in markdown(change)
    assert "第 2 版" in markdown(change)

    listing = say(docs_server, fake_dingtalk, "/文档")
    assert "v2" in listing
    assert "[Word]" in listing
    unknown = say(docs_server, fake_dingtalk, "/策划 修改 诗歌 写一首诗")
    assert "没有“诗歌”这一节" in unknown


def test_poster_command_and_api(docs_server: LiveServer, fake_dingtalk: FakeDingTalk) -> None:
    accepted = say(docs_server, fake_dingtalk, "/海报 12月18日下午2点在3楼大会议室办年终总结会")
    assert await_job(docs_server, job_id_of(accepted))["state"] == "succeeded"
    [posted] = fake_dingtalk.wait_for(1, timeout=30)
    text = markdown(posted)
    assert "排版海报（本地渲染，非 AI 生成图片）" in text
    url = re.search(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert url is not None
    image = Image.open(io.BytesIO(download(url[1], docs_server)))
    assert image.format == "PNG"
    assert image.size == (1080, 1528)

    api = httpx.post(
        f"{docs_server.url}/api/posters",
        json={
            "fields": {
                "title": "Quarterly Showcase",
                "date": "Fri 18 Dec, 2pm",
                "place": "Room 301",
                "highlights": ["Live demos"],
            },
            "theme": "活力橙",
            "language": "en",
            "tenant": "acme",
        },
        headers=AUTH,
        timeout=30,
    )
    assert api.status_code == 202, api.text
    body = api.json()
    assert await_job(docs_server, body["job_id"])["state"] == "succeeded"
    poster = httpx.get(f"{docs_server.url}{body['url']}", headers=AUTH, timeout=30).json()
    assert poster["source"] == "rendered"
    assert poster["spec"]["theme"] == "orange"
    other = httpx.get(
        f"{docs_server.url}/api/posters/{body['poster_id']}?tenant=other", headers=AUTH, timeout=30
    )
    assert other.status_code == 404


def test_document_api_validates_and_keeps_tenants_apart(docs_server: LiveServer) -> None:
    url = f"{docs_server.url}/api/documents"
    unknown = httpx.post(url, json={"kind": "poem", "brief": "x"}, headers=AUTH, timeout=30)
    assert unknown.status_code == 422
    assert "known kinds" in unknown.text
    empty = httpx.post(url, json={"kind": "event-plan", "brief": " "}, headers=AUTH, timeout=30)
    assert empty.status_code == 422
    assert "brief is empty" in empty.text
    no_robot = httpx.post(
        url, json={"kind": "workflow", "brief": "报销流程", "post": True}, headers=AUTH, timeout=30
    )
    assert no_robot.status_code == 409
    anonymous = httpx.post(url, json={"kind": "workflow", "brief": "报销流程"}, timeout=30)
    assert anonymous.status_code == 401
    kinds = httpx.get(f"{docs_server.url}/api/document-kinds", headers=AUTH, timeout=30).json()
    assert {k["name"] for k in kinds["kinds"]} == {"event-plan", "meeting-plan", "workflow"}

    created = httpx.post(
        url,
        json={
            "kind": "workflow",
            "brief": "Expense claims: employee submits, manager approves, finance pays",
            "tenant": "acme",
        },
        headers=AUTH,
        timeout=30,
    )
    assert created.status_code == 202, created.text
    body = created.json()
    assert await_job(docs_server, body["job_id"])["state"] == "succeeded"
    document = httpx.get(f"{docs_server.url}{body['url']}", headers=AUTH, timeout=30).json()
    assert document["status"] == "done"
    assert document["document"]["language"] == "en"
    assert {"docx", "md"} <= set(document["files"])
    elsewhere = httpx.get(f"{url}/{body['document_id']}?tenant=other", headers=AUTH, timeout=30)
    assert elsewhere.status_code == 404
    listed = httpx.get(f"{url}?tenant=other", headers=AUTH, timeout=30).json()
    assert listed["documents"] == []
    revision = httpx.post(
        f"{url}/{body['document_id']}/revisions",
        json={"section": "poem", "instruction": "x", "tenant": "acme"},
        headers=AUTH,
        timeout=30,
    )
    assert revision.status_code == 422


@pytest.mark.parametrize("allowed", [True, False])
def test_posters_from_an_images_api_only_on_allowed_hosts(
    start_server: Callable[..., LiveServer],
    make_settings: Callable[..., Settings],
    fake_dingtalk: FakeDingTalk,
    allowed: bool,
) -> None:
    from tests.test_docs_poster import FakeImagesAPI, b64_answer, picture

    api = FakeImagesAPI().start()
    try:
        api.answers["/v1/images/generations"] = b64_answer(picture(size=(64, 112)))
        hosts = ["127.0.0.1"] if allowed else ["oapi.dingtalk.com"]
        settings = make_settings(
            outbound_allowed_hosts=hosts,
            plugins={
                "docs": {
                    "poster_backend": "openai",
                    "images_base_url": f"{api.url}/v1",
                    "images_api_key": "sk-poster-secret",
                    "images_model": "pm-1",
                }
            },
        )
        server = start_server(settings)
        created = httpx.post(
            f"{server.url}/api/posters",
            json={"fields": {"title": "年终总结会", "date": "12月18日"}},
            headers=AUTH,
            timeout=30,
        )
        assert created.status_code == 202, created.text
        body = created.json()
        assert await_job(server, body["job_id"])["state"] == "succeeded"
        poster = httpx.get(f"{server.url}{body['url']}", headers=AUTH, timeout=30).json()
    finally:
        api.stop()
    if allowed:
        assert poster["source"] == "generated"
        assert poster["label"] == "AI 生成图片（pm-1）"
        [request] = api.received
        assert request.headers["authorization"] == "Bearer sk-poster-secret"
    else:
        assert poster["status"] == "failed"
        assert "OFFICEBOT_OUTBOUND_ALLOWED_HOSTS" in poster["error"]
        assert api.received == []
