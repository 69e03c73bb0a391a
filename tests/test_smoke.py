from __future__ import annotations

from tests.conftest import dingtalk_message, post_dingtalk
from tests.support.live_server import LiveServer


def test_help_lists_commands(server: LiveServer) -> None:
    response = post_dingtalk(server, dingtalk_message("/help"))
    assert response.status_code == 200
    body = response.json()
    assert body["msgtype"] == "markdown"
    assert "/help" in body["markdown"]["text"]
