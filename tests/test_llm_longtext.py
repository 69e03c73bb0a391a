"""Long input: splitting on natural boundaries with the real Qwen tokenizer, the map-reduce plan,
and one focused run of the real 0.5B model over a Chinese text that needs splitting."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from llm.config import LLMSettings
from llm.errors import LLMError
from llm.factory import create_llm
from llm.longtext import (
    map_reduce,
    map_reduce_async,
    prompt_tokens,
    split_text,
)
from llm.service import LLM
from llm.tokenizer import load_tokenizer
from llm.types import Completion, Message, Priority
from llm.weights import ensure_weights, model_spec

MEETING_ZH = """\
2026年第二季度产品规划会议记录

时间：2026年4月8日 14:00-17:30
地点：杭州总部 5 楼大会议室（线上同步）
主持：张伟（产品总监）
记录：李娜
参会：张伟、李娜、王强、陈静、刘洋、Alice Chen、赵敏

一、第一季度回顾

张伟首先回顾了第一季度的整体情况。智能排班系统 3.2 版本于2月28日按时上线，新增了跨门店调班和节\
假日自动排班两个功能。截至3月31日，付费客户从 1,850 家增长到 2,130 家，环比增长 15.1%；月活跃\
用户达到 4.6 万，比上季度多了约 8,000 人。客户续费率为 87%，比目标低 3 个百分点，主要流失集中\
在 50 人以下的小型门店。

王强补充说，客服工单量第一季度共 3,420 张，其中 41% 与排班规则配置有关。很多客户反映规则页面太\
复杂，新员工上手需要半天以上。他建议第二季度优先简化规则配置，并把常见问题整理成视频教程。

陈静汇报了销售情况：第一季度新签合同金额 486 万元，完成季度目标的 92%。连锁餐饮行业贡献了 58% \
的新签金额，零售行业增长较慢。她提到华东区两个大客户（合计约 60 万元）推迟到第二季度签约，原因\
是对方的预算审批流程延后。

二、第二季度版本规划

张伟介绍了 3.3 版本的范围。核心目标有三个：第一，规则配置向导化，把现在的 26 个配置项收敛成 5 \
步向导；第二，上线考勤异常自动提醒，员工迟到、漏打卡时通过钉钉工作通知提醒本人和店长；第三，开\
放排班数据接口，方便客户对接自己的薪资系统。

刘洋负责技术方案。他评估后认为规则向导需要前端 2 人、后端 1 人，开发约 4 周；考勤提醒依赖钉钉\
开放平台的消息接口，需要先完成企业内部应用的权限申请，预计 1 周；数据接口涉及权限和审计，至少\
需要 3 周，还要安排一次安全评审。刘洋提醒，如果三项同时推进，测试资源会很紧张，现有 2 名测试工\
程师只能保证 5 月底前完成前两项的回归测试。

经过讨论，会议决定：3.3 版本先包含规则向导和考勤提醒，计划 5月20日 提测，6月3日 正式发布；数据\
接口放到 3.4 版本，7 月中旬再评估。Alice Chen 提出海外客户对英文界面的需求在增加，希望 3.3 版\
本至少完成规则向导的英文翻译。张伟同意，由 Alice 在 5月10日 前提供英文文案。

三、市场活动

赵敏介绍了第二季度的市场计划。5 月将在上海举办一场面向连锁餐饮的线下沙龙，预计邀请 80 家客户，\
场地和物料预算 12 万元。6 月参加广州的零售数字化展会，展位费 18 万元，另需差旅和物料约 6 万元\
。线上方面，计划每两周发布一篇客户案例，并在公众号上做一次“排班效率提升 30%”的专题。

陈静认为展会的获客成本偏高，去年同一展会只带来 11 个有效线索。赵敏回应说今年展位位置更好，而且\
会和合作伙伴联合展出，费用可以分摊 40%。会议同意先保留展会计划，但要求赵敏在 4月30日 前拿到合\
作伙伴的书面确认，否则取消参展。

四、预算

李娜汇报了预算情况。第二季度部门总预算为 150 万元：研发外包 45 万元，市场活动 36 万元，云服务\
器和带宽 28 万元，招聘 15 万元，培训 6 万元，其余 20 万元作为机动。云服务器费用比第一季度上涨\
了 12%，原因是客户数增长和日志保留时间从 30 天延长到 90 天。王强建议把 90 天以前的日志转存到低\
频存储，预计每月可以节省约 1.5 万元。刘洋同意在 4 月底前完成迁移方案。

五、人员与招聘

张伟说明，第二季度计划招聘 1 名高级前端工程师和 1 名测试工程师。前端岗位已经面试了 6 位候选人\
，有 1 位进入终面；测试岗位还没有合适人选。陈静提出销售团队华南区人手不足，希望增加 1 个销售岗\
位。张伟表示需要先和财务确认预算，下周一给出答复。

六、风险

会议识别了三项主要风险：一是钉钉接口权限申请可能延误，影响考勤提醒的上线时间；二是测试资源紧张\
，如果规则向导的开发延期超过一周，6月3日的发布日期很难保证；三是两个华东大客户的签约如果继续推\
迟，第二季度销售目标（520 万元）有落空风险。针对第一项，刘洋会在本周五前提交权限申请；针对第二\
项，王强会协调客服团队的 2 名同事参与验收测试。

七、待办事项

1. 刘洋：4月10日（本周五）前提交钉钉企业内部应用权限申请。
2. 刘洋：4月30日前完成日志转存到低频存储的迁移方案。
3. Alice Chen：5月10日前提供规则向导的英文文案。
4. 赵敏：4月30日前拿到展会合作伙伴的书面确认。
5. 王强：整理排班规则常见问题，4月25日前完成 5 个视频教程的脚本。
6. 张伟：下周一（4月13日）前答复华南区销售岗位的预算。
7. 陈静：跟进华东区两个大客户的签约进度，每周在群里同步一次。

下次会议时间：2026年4月22日 14:00，同一地点。
"""

CHAT_ZH = """\
【产品研发群 聊天记录 2026年4月9日】
09:12 张伟：各位早，昨天的会议纪要已经发到群里了，大家看一下自己的待办，有问题今天中午前提出来\
。
09:15 刘洋：收到。钉钉权限申请的材料我今天下午整理，需要法务确认一下隐私条款，@赵敏 法务那边对\
接人是谁？
09:20 赵敏：法务是孙磊，我把他拉进群。另外展会的合作伙伴今天上午开会，我争取这周拿到书面确认。
09:31 王强：规则配置的常见问题我先拉了一份清单，一共 23 条，按工单数量排序，前 5 条占了一半以\
上的工单。视频脚本我打算先做这 5 条。
09:40 Alice Chen：For the English copy of the rule wizard, could someone send me the final Chi\
nese text first? I need it by April 28 to finish by May 10.
09:42 李娜：@Alice Chen 中文文案还在改，我跟交互设计确认后 4月27日 发给你。
10:05 陈静：华东那两个客户我刚打过电话，其中一家说采购会在 4 月 20 日左右开，另一家要等集团的\
年度预算批下来，可能要到 5 月中旬。
10:08 张伟：第二家风险比较大。陈静你评估一下，如果 5 月底前签不下来，第二季度的销售目标要不要\
调整，下周一例会上说。
10:30 刘洋：服务器这边我看了一下，日志现在一共 38 TB，90 天以前的大约 21 TB，转到低频存储每月\
能省 1.2 万到 1.6 万元，和王强估的差不多。迁移需要停机窗口，建议放在 4 月 26 日周日凌晨。
10:33 王强：周日凌晨可以，客服那边我提前通知客户。
11:02 孙磊：大家好，我是法务孙磊。钉钉权限申请涉及员工考勤数据，需要在隐私政策里补充一段说明，\
我今天写好发给刘洋。
11:20 赵敏：上海沙龙的场地定了，5月16日 周六下午，静安区的一家酒店，可以容纳 100 人。目前确认\
参加的客户有 34 家。
11:25 张伟：好的，邀请函这周发出去，目标还是 80 家。陈静那边销售同事帮忙一起邀约。
11:48 刘洋：规则向导的技术方案初稿写好了，放在共享盘“3.3 版本”目录下，周四下午 3 点评审，前端\
、后端、测试都请参加。
13:05 李娜：提醒一下，第二季度的预算申请表这周五下班前要交给财务，超过 5 万元的采购需要附比价\
单。
13:10 陈静：华南销售岗的预算我也写进申请表里了，金额按 1 个人半年 18 万元估的，等张总确认。
13:12 张伟：先按这个报，周一我和财务一起过。
14:40 Alice Chen：Thanks 李娜. Also, two overseas clients asked whether the attendance reminde\
r will support English notifications. Can we include that in 3.3?
14:52 刘洋：英文通知需要多做一套消息模板，工作量大概 2 天，可以放进 3.3，但要 Alice 提供英文文\
案。
14:55 张伟：可以，加进去。Alice 把考勤提醒的英文文案也一起在 5月10日 前给出来。
15:30 王强：客服同事报名了验收测试，小周和小吴两个人，5月13日 开始参与。
16:10 赵敏：合作伙伴刚回复了，同意分摊展位费的 40%，书面确认函明天盖章寄出。
16:12 张伟：太好了，这样展会计划就保留。大家辛苦。
"""

NOTES_EN = """\
Weekly operations review, Thursday 9 April 2026

Attendees: Alice Chen (chair), Bob Miller, Priya Shah, 张伟, Tom O'Brien.

1. Customer support. Ticket volume was 3,420 in the first quarter, down 8% from last year. \
Priya said 41% of tickets were about shift-rule configuration. She proposed a five-step setup \
wizard and a set of short video tutorials. Bob agreed, but warned that the wizard needs two \
front-end engineers for about four weeks.

2. Release plan. Version 3.3 will ship the rule wizard and attendance reminders. Code freeze is \
May 20; the release is planned for June 3. The data export API moves to version 3.4, to be \
reviewed in mid-July. Tom asked whether reminders can be sent in English as well; the team agreed \
to add English templates, about two days of work.

3. Budget. The second-quarter budget is $215,000: $65,000 for contractors, $52,000 for events, \
$40,000 for cloud hosting, $22,000 for hiring, $8,000 for training and $28,000 in reserve. \
Hosting costs rose 12% because logs are now kept for 90 days instead of 30. Bob will move logs \
older than 90 days to cold storage, which should save roughly $2,000 a month.

4. Events. The Shanghai customer salon is on May 16, with 80 invited customers and 34 confirmed \
so far. The Guangzhou retail fair costs $25,000 for the booth; a partner agreed to cover 40% \
of it, with written confirmation expected by April 30. If it does not arrive, the team will \
withdraw.

5. Hiring. One senior front-end engineer and one QA engineer are planned. Six candidates were \
interviewed for the front-end role and one reached the final round. No QA candidate yet.

Action items:
- Bob: submit the DingTalk permission request by Friday, April 10.
- Bob: cold-storage migration plan by April 30.
- Alice: English copy for the wizard and the reminders by May 10.
- Priya: scripts for five video tutorials by April 25.
- 张伟: answer on the extra sales role by Monday, April 13.

Next review: Thursday, April 23, 2:00 pm, same room.
"""

CHINESE_TEXT = MEETING_ZH + "\n" + CHAT_ZH
# Names and terms of the text; a summary of it names at least one.
KEY_TERMS = ("张伟", "李娜", "王强", "刘洋", "赵敏", "Alice", "产品规划", "排班", "预算", "版本")

TokenCounter = Callable[[str], int]


@pytest.fixture(scope="module")
def count_tokens(model_cache: Path) -> TokenCounter:
    """Qwen2.5's real tokenizer, rebuilt from the 0.5B model's GGUF file."""
    tokenizer = load_tokenizer(ensure_weights(model_spec("qwen2.5-coder-0.5b"), model_cache))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_lossless_and_in_order(chunks: Sequence[str], text: str) -> None:
    assert squeeze("".join(chunks)) == squeeze(text)
    position = 0
    for chunk in chunks:
        found = text.find(chunk, position)
        assert found >= 0, f"chunk not found in order: {chunk[:40]!r}"
        position = found + len(chunk)


SENTENCE_END = tuple('。！？；!?;.…）)”"')
CLAUSE_END = tuple("，、,：:")


def ends_at_boundary(chunk: str, text: str, *, clauses: bool = False) -> bool:
    """The chunk ends a sentence (or a clause), or the text goes on with a line break (or
    ends); a list number ("2.") is not the end of a sentence."""
    end = text.find(chunk) + len(chunk)
    if re.search(r"(?:^|\n)\d{1,2}\.$", chunk):
        return False
    ends = SENTENCE_END + CLAUSE_END if clauses else SENTENCE_END
    return chunk.endswith(ends) or end == len(text) or text[end] == "\n"


# --- split_text ---------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [120, 300, 700])
def test_chinese_chunks_fit_keep_order_and_lose_nothing(
    count_tokens: TokenCounter, max_tokens: int
) -> None:
    chunks = split_text(CHINESE_TEXT, max_tokens, count_tokens)
    assert len(chunks) >= count_tokens(CHINESE_TEXT) // max_tokens
    assert all(count_tokens(chunk) <= max_tokens for chunk in chunks)
    assert_lossless_and_in_order(chunks, CHINESE_TEXT)
    assert all(ends_at_boundary(chunk, CHINESE_TEXT) for chunk in chunks)


@pytest.mark.parametrize("max_tokens", [60, 150, 400])
def test_english_chunks_fit_keep_order_and_lose_nothing(
    count_tokens: TokenCounter, max_tokens: int
) -> None:
    chunks = split_text(NOTES_EN, max_tokens, count_tokens)
    assert len(chunks) > 1
    assert all(count_tokens(chunk) <= max_tokens for chunk in chunks)
    assert_lossless_and_in_order(chunks, NOTES_EN)
    # At 60 tokens the budget sentence (a list of amounts) must be cut between clauses.
    assert all(ends_at_boundary(chunk, NOTES_EN, clauses=max_tokens < 100) for chunk in chunks)
    assert not any(chunk.startswith(("5 ", "000", "2026")) for chunk in chunks)  # no cut in "3.5"


def test_paragraphs_stay_whole_when_they_fit(count_tokens: TokenCounter) -> None:
    paragraphs = [p.strip() for p in MEETING_ZH.split("\n\n") if p.strip()]
    largest = max(count_tokens(p) for p in paragraphs)
    chunks = split_text(MEETING_ZH, largest + 20, count_tokens)
    for chunk in chunks:
        assert all(part in paragraphs for part in chunk.split("\n\n")), chunk[:60]


def test_a_sentence_longer_than_the_budget_is_cut_between_clauses(
    count_tokens: TokenCounter,
) -> None:
    sentence = (
        "刘洋评估后认为规则向导需要前端 2 人、后端 1 人，开发约 4 周，考勤提醒依赖钉钉开放平台的"
        "消息接口，需要先完成企业内部应用的权限申请，预计 1 周，数据接口涉及权限和审计，"
        "至少需要 3 周，还要安排一次安全评审。"
    )
    chunks = split_text(sentence, 30, count_tokens)
    assert len(chunks) > 1
    assert all(count_tokens(chunk) <= 30 for chunk in chunks)
    assert "".join(chunks) == sentence
    assert all(chunk.endswith(("，", "、", "。")) for chunk in chunks)


def test_text_without_any_boundary_is_cut_hard(count_tokens: TokenCounter) -> None:
    url = "https://example.com/share?token=" + "a1B2c3D4e5" * 60
    chunks = split_text(url, 50, count_tokens)
    assert len(chunks) > 2
    assert all(count_tokens(chunk) <= 50 for chunk in chunks)
    assert "".join(chunks) == url
    emoji = "👨\u200d👩\u200d👧\u200d👦" * 40
    chunks = split_text(emoji, 25, count_tokens)
    assert "".join(chunks) == emoji
    assert not any(chunk.startswith("\u200d") or chunk.endswith("\u200d") for chunk in chunks)


def test_overlap_repeats_the_end_of_the_previous_chunk(count_tokens: TokenCounter) -> None:
    chunks = split_text(CHINESE_TEXT, 300, count_tokens, overlap_tokens=60)
    plain = split_text(CHINESE_TEXT, 240, count_tokens)
    assert len(chunks) == len(plain)
    assert all(count_tokens(chunk) <= 300 for chunk in chunks)
    for previous, chunk, new_text in zip(plain, chunks[1:], plain[1:], strict=False):
        overlap = chunk.removesuffix(new_text).strip()
        assert overlap, "each later chunk starts with context from the one before"
        assert previous.endswith(overlap)
        assert count_tokens(overlap) <= 60


def test_small_and_empty_texts(count_tokens: TokenCounter) -> None:
    assert split_text("  张伟：收到。  ", 100, count_tokens) == ["张伟：收到。"]
    assert split_text(" \n\n ", 100, count_tokens) == []
    with pytest.raises(ValueError, match="max_tokens"):
        split_text("x", 0, count_tokens)
    with pytest.raises(ValueError, match="overlap_tokens"):
        split_text("x", 100, count_tokens, overlap_tokens=60)


def test_a_long_text_is_split_in_linear_work(count_tokens: TokenCounter) -> None:
    text = "\n\n".join([CHINESE_TEXT, NOTES_EN] * 20)  # about 120,000 characters
    assert len(text) > 100_000
    counted = 0

    def counting(piece: str) -> int:
        nonlocal counted
        counted += len(piece)
        return count_tokens(piece)

    started = time.perf_counter()
    chunks = split_text(text, 1000, counting)
    elapsed = time.perf_counter() - started
    assert_lossless_and_in_order(chunks, text)
    assert counted < 4 * len(text), "each character is counted a few times, not once per chunk"
    assert elapsed < 20


# --- the map-reduce plan ------------------------------------------------------------------


class PlanRecorder:
    """Stands in for the model where a test is about the plan, not the words: a map reply is
    the start of its part, a reduce reply the start of each summary; every request is kept."""

    def __init__(self, count: TokenCounter, context_window: int, reply_tokens: int) -> None:
        self._count = count
        self._context_window = context_window
        self.reply_tokens = reply_tokens
        self.calls: list[tuple[str, list[Message], dict[str, Any]]] = []
        self.replies: list[str] = []

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        content = messages[-1].content
        kind = "reduce" if "<summary" in content else "map"
        self.calls.append((kind, list(messages), kwargs))
        if kind == "map":
            body = content[content.index("<text>\n") + 7 : content.index("\n</text>")]
            reply = "- " + split_text(body, self.reply_tokens, self._count)[0]
        else:
            summaries = re.findall(r"<summary part=\"\d+\">\n(.*?)\n</summary>", content, re.S)
            reply = "\n".join(s.split("\n")[0][:30] for s in summaries)
            reply = split_text(reply, self.reply_tokens, self._count)[0]
        self.replies.append(reply)
        return Completion(text=reply, finish_reason="stop")

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        return self.complete_sync(messages, **kwargs)


def _parts(messages: list[Message]) -> tuple[int, int]:
    found = re.search(r"第 (\d+) 部分（共 (\d+) 部分）", messages[-1].content)
    assert found is not None
    return int(found[1]), int(found[2])


def test_map_reduce_maps_every_part_then_reduces_level_by_level(
    count_tokens: TokenCounter,
) -> None:
    model = PlanRecorder(count_tokens, context_window=800, reply_tokens=100)
    stages: list[tuple[str, float]] = []
    result = map_reduce(
        model,
        CHINESE_TEXT,
        lang="zh",
        max_output_tokens=100,
        progress=lambda stage, percent: stages.append((stage, percent)),
    )
    kinds = [kind for kind, _, _ in model.calls]
    maps = [messages for kind, messages, _ in model.calls if kind == "map"]
    parts = [_parts(messages) for messages in maps]
    total = parts[0][1]
    assert parts == [(k, total) for k in range(1, total + 1)]
    assert kinds == ["map"] * total + ["reduce"] * (len(kinds) - total)
    assert kinds.count("reduce") >= 3, "the partial summaries needed more than one level"
    mapped = [m[-1].content.split("<text>\n")[1].split("\n</text>")[0] for m in maps]
    assert_lossless_and_in_order(mapped, CHINESE_TEXT)
    for _, messages, kwargs in model.calls:
        assert prompt_tokens(messages, count_tokens) + 100 <= 800
        assert kwargs["options"].max_tokens == 100
        assert kwargs["priority"] == Priority.BACKGROUND
    assert result == model.replies[-1]
    assert MEETING_ZH[:10] in result
    assert [stage for stage, _ in stages] == kinds
    percents = [percent for _, percent in stages]
    assert percents == sorted(percents)
    assert percents[-1] == 100.0


async def test_the_async_plan_makes_the_same_requests(count_tokens: TokenCounter) -> None:
    sync_model = PlanRecorder(count_tokens, context_window=800, reply_tokens=100)
    async_model = PlanRecorder(count_tokens, context_window=800, reply_tokens=100)
    expected = map_reduce(sync_model, CHINESE_TEXT, lang="zh", max_output_tokens=100)
    result = await map_reduce_async(async_model, CHINESE_TEXT, lang="zh", max_output_tokens=100)
    assert result == expected
    assert [m for _, m, _ in async_model.calls] == [m for _, m, _ in sync_model.calls]


def test_a_text_that_fits_takes_one_request(count_tokens: TokenCounter) -> None:
    model = PlanRecorder(count_tokens, context_window=4096, reply_tokens=50)
    stages: list[tuple[str, float]] = []
    map_reduce(
        model, NOTES_EN, lang="en", max_output_tokens=200, progress=lambda *s: stages.append(s)
    )
    assert len(model.calls) == 1
    content = model.calls[0][1][-1].content
    assert "Here is the text to summarize" in content
    assert NOTES_EN.strip() in content
    assert stages == [("single", 100.0)]


def test_nothing_to_read_needs_no_request(count_tokens: TokenCounter) -> None:
    model = PlanRecorder(count_tokens, context_window=4096, reply_tokens=50)
    assert map_reduce(model, " \n\n ", lang="zh") == ""
    assert model.calls == []


def test_extra_variables_reach_the_templates_but_cannot_replace_the_text(
    count_tokens: TokenCounter,
) -> None:
    model = PlanRecorder(count_tokens, context_window=4096, reply_tokens=50)
    map_reduce(model, NOTES_EN, lang="en", variables={"meeting_title": "Weekly ops review"})
    assert len(model.calls) == 1
    with pytest.raises(ValueError, match="must not set text"):
        map_reduce(model, NOTES_EN, lang="en", variables={"text": "something else"})


def test_a_window_too_small_for_the_prompt_is_a_clear_error(count_tokens: TokenCounter) -> None:
    model = PlanRecorder(count_tokens, context_window=600, reply_tokens=50)
    with pytest.raises(LLMError, match=r"600-token context window leaves .* lower max_output"):
        map_reduce(model, CHINESE_TEXT, lang="zh", max_output_tokens=256)
    assert model.calls == []


# --- the real model -----------------------------------------------------------------------


class Recording:
    """The real model, with every request and reply kept."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self.calls: list[tuple[list[Message], Completion]] = []

    @property
    def context_window(self) -> int:
        return self.llm.context_window

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        completion = self.llm.complete_sync(messages, **kwargs)
        self.calls.append((list(messages), completion))
        return completion

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        completion = await self.llm.complete(messages, **kwargs)
        self.calls.append((list(messages), completion))
        return completion


@pytest.fixture
def small_context_llm(model_cache: Path) -> Iterator[LLM]:
    settings = LLMSettings(
        model="qwen2.5-coder-0.5b",
        cache_dir=model_cache,
        context_tokens=1024,
        max_output_tokens=128,
    )
    llm = create_llm(settings, data_dir=model_cache)
    yield llm
    llm.close()


@pytest.mark.slow
def test_the_real_model_maps_each_part_and_reduces(small_context_llm: LLM) -> None:
    model = Recording(small_context_llm)
    assert model.count_tokens(CHINESE_TEXT) > 2000  # more than the 1024-token window holds
    result = map_reduce(model, CHINESE_TEXT, lang="zh", max_output_tokens=64)
    maps = [messages for messages, _ in model.calls if "<text>" in messages[-1].content]
    reduces = [messages for messages, _ in model.calls if "<summary" in messages[-1].content]
    total = _parts(maps[0])[1]
    assert total >= 3
    assert [_parts(messages) for messages in maps] == [(k, total) for k in range(1, total + 1)]
    assert len(reduces) >= 1
    assert len(model.calls) == len(maps) + len(reduces)
    assert all(c.usage.prompt_tokens + 64 <= 1024 for _, c in model.calls)
    assert result.strip()
    assert result == model.calls[-1][1].text.strip()
    assert any(term in result for term in KEY_TERMS), result
