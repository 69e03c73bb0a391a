"""Content words of chat messages: jieba for Chinese, plain words for English.

Topic segmentation compares messages by the words they share, and extractive summaries rank
sentences by them, so both need the same notion of a word: Chinese cut by jieba (its
dictionary ships in the package, nothing is downloaded), English lower-cased and crudely
stemmed, and neither keeps stopwords, @mentions, links, numbers or emoji codes ("[捂脸]").

jieba loads its dictionary once per process, on first use (~0.7 s; it caches a compiled
copy in the temp directory), from whichever thread gets there first.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from chat_summary.extract import stem

_lock = threading.Lock()
_tokenizer: Any = None

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@[^\s@，,。:：]{1,20}")
_EMOJI_CODE = re.compile(r"\[[^\[\]\s]{1,6}\]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_OR_CJK = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z][A-Za-z0-9'’-]*[A-Za-z0-9]|[A-Za-z]"
)

EN_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further get gets got had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most
    mustn't my myself no nor not now of off on once only or other ought our ours ourselves out
    over own same shan't she she'd she'll she's should shouldn't so some such than that that's
    the their theirs them themselves then there there's these they they'd they'll they're
    they've this those through to too under until up very was wasn't we we'd we'll we're we've
    were weren't what what's when when's where where's which while who who's whom why why's
    will with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    ok okay yes yeah yep nope hi hey hello thanks thank thx pls please lol haha great good
    cool nice sure sounds sgtm lgtm fine guys everyone one two also still maybe really think
    know need want make going gonna let like well right today tomorrow yesterday morning
    afternoon tonight week day time will would shall
    """.split()  # noqa: SIM905 - a word list reads better as words
)
ZH_STOPWORDS = frozenset(
    """
    的 了 是 在 我 我们 你 你们 他 她 它 他们 这 那 就 都 也 和 与 及 或 把 被 给
    吧 呢 啊 吗 嘛 呀 哦
    个 这个 那个 一下 一个 有 没有 没 不 很 还 要 会 能 可以 好 好的 嗯 哈哈 哈哈哈 收到 谢谢 感谢
    大家 今天 明天 昨天 现在 然后 但是 因为 所以 如果 就是 还是 已经 一起 什么 怎么 这样 那样
    一些 这些 那些 我觉得 觉得 看看 一下 问题 可能 应该 需要 其实 感觉 比较 这边 那边 自己 时候
    下午 上午 晚上 早上 中午 周一 周二 周三 周四 周五 周六 周日 下周 本周 这周 上周 今晚 ok OK
    对 对的 是的 行 没问题 嗯嗯 好滴 辛苦 辛苦了 麻烦 请 一 二 三 两 几 多 少 吗 啦 哒 呗 咯
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def _jieba() -> Any:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                with warnings.catch_warnings():
                    # jieba 0.42 reads its dictionary through the deprecated pkg_resources.
                    warnings.filterwarnings(
                        "ignore", message="pkg_resources is deprecated", category=UserWarning
                    )
                    import jieba

                    logging.getLogger("jieba").setLevel(logging.WARNING)
                    tokenizer = jieba.Tokenizer()
                    tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now (a benchmark or a server start, not the first request)."""
    _jieba()


def plain_text(text: str) -> str:
    """``text`` without links, @mentions and emoji codes: what its words are read from."""
    return _EMOJI_CODE.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text)))


def content_words(text: str) -> list[str]:
    """The content words of ``text``, in order (repeats kept)."""
    words: list[str] = []
    cut = None
    for piece in _LATIN_OR_CJK.findall(plain_text(text)):
        if _CJK_RUN.fullmatch(piece):
            if cut is None:
                cut = _jieba().lcut
            # No HMM pass for words missing from the dictionary: a quarter faster, and the
            # words that tell topics apart are in it.
            for word in cut(piece, HMM=False):
                if len(word) > 1 and word not in ZH_STOPWORDS:
                    words.append(word)
        else:
            word = piece.lower().replace("’", "'")
            if len(word) > 2 and word not in EN_STOPWORDS:
                words.append(stem(word))
    return words


def idf(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of every word in ``documents``."""
    counts: Counter[str] = Counter()
    total = 0
    for words in documents:
        counts.update(set(words))
        total += 1
    return {word: math.log((1 + total) / (1 + n)) + 1.0 for word, n in counts.items()}


def weighted(words: Sequence[str], weights: dict[str, float]) -> dict[str, float]:
    """A tf-idf vector: each word's count times its weight."""
    vector: dict[str, float] = {}
    for word in words:
        vector[word] = vector.get(word, 0.0) + weights.get(word, 1.0)
    return vector


def top_words(vector: dict[str, float], count: int) -> list[str]:
    return [w for w, _ in sorted(vector.items(), key=lambda item: (-item[1], item[0]))[:count]]
