"""Validation rules: which widgets may carry one, the edits that set and clear it, how the outline
shows it, and the generated page that refuses a badly formatted value (run by node against a
fake ``dd``) with the keyboard the rule asks for. The patterns are tested in node, where they
run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from miniapp.codegen import INVALID_MESSAGES, RULE_PATTERNS, generate, preview_html
from miniapp.spec import (
    RULES,
    ImageSize,
    Page,
    SpecEditError,
    Submit,
    UISpec,
    field_names,
    outline,
    retype,
    set_rule,
)
from tests.test_miniapp_codegen import (
    SCRIPT_LABEL,
    leave_request,
    node,
    run_page,
    widget,
    write_files,
)

ENDPOINT = "https://hr.example.com/contacts"


def contact_form(language: str = "zh", *, endpoint: str = "") -> UISpec:
    """A contact form with one input of every rule and a required name."""
    zh = language == "zh"
    labels = (
        ("姓名", "手机号", "邮箱", "人数", "金额", "身份证号", "公司网址", "提交")
        if zh
        else ("Name", "Mobile", "Email", "Guests", "Amount", "ID card", "Website", "Submit")
    )
    name, phone, email, guests, amount, id_card, website, submit = labels
    return UISpec(
        page=Page(name="contact", title="联系方式" if zh else "Contact"),
        image=ImageSize(width=750, height=1334),
        widgets=(
            widget(1, "input", 0, label=name, required=True),
            widget(2, "input", 1, label=phone, required=True, rule="phone"),
            widget(3, "input", 2, label=email, rule="email"),
            widget(4, "input", 3, label=guests, rule="integer"),
            widget(5, "input", 4, label=amount, rule="number"),
            widget(6, "input", 5, label=id_card, rule="id_card"),
            widget(7, "textarea", 6, label=website, rule="url"),
            widget(8, "button", 7, label=submit),
        ),
        submit=Submit(endpoint=endpoint),
    )


# --- the spec ----------------------------------------------------------------------------------


def test_rules_are_the_documented_ones() -> None:
    assert RULES == ("", "email", "phone", "number", "integer", "id_card", "url")
    assert sorted(RULE_PATTERNS) == sorted(r for r in RULES if r)
    for language in ("zh", "en"):
        assert sorted(INVALID_MESSAGES[language]) == sorted(RULE_PATTERNS)  # type: ignore[index]


@pytest.mark.parametrize("widget_type", ["date", "select", "checkbox", "radio", "switch", "title"])
def test_only_typed_in_widgets_carry_a_rule(widget_type: str) -> None:
    with pytest.raises(ValidationError, match="only these can have a rule: input, textarea"):
        widget(1, widget_type, 0, label="邮箱", rule="email")
    assert widget(1, widget_type, 0, label="邮箱").rule == ""


def test_a_rule_must_be_known() -> None:
    with pytest.raises(ValidationError, match="Input should be '', 'email'"):
        widget(1, "input", 0, rule="zip")


def test_a_spec_with_rules_survives_a_json_round_trip() -> None:
    spec = contact_form()
    assert UISpec.model_validate_json(spec.model_dump_json()) == spec

    stored = json.loads(leave_request().model_dump_json())  # as stored before rules existed
    for entry in stored["widgets"]:
        del entry["rule"]
    assert UISpec.model_validate(stored) == leave_request()


def test_set_rule_sets_and_clears() -> None:
    spec = leave_request()

    with_rule = set_rule(spec, 3, "phone")
    assert with_rule.widgets[2].rule == "phone"
    assert spec.widgets[2].rule == ""
    assert set_rule(with_rule, 3, "").widgets[2].rule == ""
    assert set_rule(spec, 7, "email").widgets[6].rule == "email"  # a text area may have one
    assert set_rule(spec, 4, "").widgets[3].rule == ""  # clearing is always allowed


def test_set_rule_says_what_is_accepted() -> None:
    spec = leave_request()

    with pytest.raises(
        SpecEditError,
        match=r"unknown rule 'zip'; the rules are: email, phone, number, integer, id_card, url",
    ):
        set_rule(spec, 3, "zip")
    with pytest.raises(
        SpecEditError, match=r"widget 4 is a select, .* only these can have a rule: input, textarea"
    ):
        set_rule(spec, 4, "email")
    with pytest.raises(SpecEditError, match="no widget 99"):
        set_rule(spec, 99, "email")


def test_retype_drops_a_rule_the_new_type_cannot_have() -> None:
    spec = set_rule(leave_request(), 3, "email")

    assert retype(spec, 3, "textarea").widgets[2].rule == "email"
    dated = retype(spec, 3, "date")
    assert dated.widgets[2].type == "date"
    assert dated.widgets[2].rule == ""
    assert retype(dated, 3, "input").widgets[2].rule == ""


def test_the_outline_shows_the_rule() -> None:
    spec = contact_form()

    assert outline(spec, "zh").splitlines()[:4] == [
        "1. 输入框「姓名」（必填）",
        "2. 输入框「手机号」（必填，电话号码）",
        "3. 输入框「邮箱」（邮箱格式）",
        "4. 输入框「人数」（整数）",
    ]
    assert outline(contact_form("en"), "en").splitlines()[1:7] == [
        '2. Input "Mobile" (required, phone number)',
        '3. Input "Email" (email)',
        '4. Input "Guests" (whole number)',
        '5. Input "Amount" (number)',
        '6. Input "ID card" (ID card number)',
        '7. Text area "Website" (web address)',
    ]
    required_email = set_rule(leave_request(), 3, "email")
    assert outline(required_email, "zh").splitlines()[2] == "3. 输入框「姓名」（必填，邮箱格式）"
    assert outline(required_email, "en").splitlines()[2] == '3. Input "姓名" (required, email)'


# --- the generated code ------------------------------------------------------------------------


def page_fields(files: dict[str, str], page: str) -> list[dict[str, Any]]:
    script = files[f"pages/{page}/index.js"]
    start = script.index("const FIELDS = ") + len("const FIELDS = ")
    end = script.index(";\nconst MESSAGES")
    fields: list[dict[str, Any]] = json.loads(script[start:end])
    return fields


def test_each_field_carries_the_pattern_of_its_rule_and_its_message() -> None:
    zh = page_fields(generate(contact_form()), "contact")
    en = page_fields(generate(contact_form("en")), "contact")

    assert [f["pattern"] for f in zh] == [
        "",
        RULE_PATTERNS["phone"],
        RULE_PATTERNS["email"],
        RULE_PATTERNS["integer"],
        RULE_PATTERNS["number"],
        RULE_PATTERNS["id_card"],
        RULE_PATTERNS["url"],
    ]
    assert zh[0]["invalid"] == ""
    assert zh[2]["invalid"] == "「邮箱」格式不正确，请输入有效的邮箱地址"
    assert zh[1]["invalid"] == "「手机号」格式不正确，请输入有效的手机号或电话号码"
    assert en[2]["invalid"] == "\u201cEmail\u201d is not a valid email address"
    assert en[3]["invalid"] == "\u201cGuests\u201d is not a whole number"


def test_the_rule_picks_the_keyboard() -> None:
    axml = generate(contact_form())["pages/contact/index.axml"]
    html = preview_html(contact_form())
    names = field_names(contact_form())

    def axml_input(widget_id: int) -> str:
        return next(
            line for line in axml.splitlines() if f"{{{{form.{names[widget_id]}}}}}" in line
        )

    def html_control(widget_id: int) -> str:
        return next(line for line in html.splitlines() if f'id="f-{names[widget_id]}"' in line)

    assert "type=" not in axml_input(1)
    assert "type=" not in axml_input(2)  # a phone number may start with +: the full keyboard
    assert 'type="number"' in axml_input(4)  # digits only
    assert 'type="digit"' in axml_input(5)  # digits and a decimal point
    assert 'type="idcard"' in axml_input(6)  # digits and X
    assert 'type="text"' in html_control(1)
    assert "inputmode=" not in html_control(1)
    assert 'type="tel"' in html_control(2)
    assert 'type="email"' in html_control(3)
    assert 'type="text" inputmode="numeric"' in html_control(4)
    assert 'type="text" inputmode="decimal"' in html_control(5)
    assert 'inputmode="url"' in html_control(7)  # a text area has no type


def test_a_spec_without_rules_gives_the_same_markup_as_before() -> None:
    axml = generate(leave_request())["pages/leave/index.axml"]
    html = preview_html(leave_request())

    assert '<input class="input" value="{{form.input_3}}" placeholder=' in axml
    assert '<input class="input" id="f-input_3" type="text" data-field="input_3"' in html
    assert "inputmode" not in html


def test_patterns_reach_the_code_only_as_json() -> None:
    hostile = contact_form().model_copy(
        update={
            "widgets": (
                widget(1, "input", 0, label=SCRIPT_LABEL, rule="email"),
                widget(2, "button", 1, label="提交"),
            )
        }
    )
    script = generate(hostile)["pages/contact/index.js"]
    html = preview_html(hostile)

    assert json.dumps(RULE_PATTERNS["email"]) in script
    assert "</" not in script
    assert "\\u003cscript\\u003e" in script  # the label, inside the invalid message
    data = html.partition('id="miniapp-data">')[2].partition("</script>")[0]
    assert "<" not in data
    assert json.loads(data)["fields"][0]["pattern"] == RULE_PATTERNS["email"]


# --- in node -----------------------------------------------------------------------------------

PATTERN_CASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # rule: (accepted, refused); values are trimmed before the test, as in the page
    "email": (
        ("li.lei@example.com", "a+b@mail.example.cn", " zhang@corp.cn "),
        ("li.lei", "li lei@example.com", "a@b", "@example.com", "a@b..cn"),
    ),
    "phone": (
        ("13812345678", "138 1234 5678", "138-1234-5678", "+44 20 7946 0958", "010-12345678"),
        ("12345", "phone", "+", "138--1234-5678", "1" * 16, "138 1234 567a"),
    ),
    "number": (("12", "-3.5", "0.75", ".5", "+8", "12."), ("1,000", "abc", "1.2.3", "-", "1e3")),
    "integer": (("0", "42", "-7"), ("4.2", "四十二", "12a", "")),
    "id_card": (
        ("11010519491231002X", "110105194912310021", "110105491231002"),
        ("11010519491231002", "1101051949123100211", "11010519491231002Y"),
    ),
    "url": (
        ("https://www.example.com", "http://example.com/a?b=c", "www.example.com", "a.cn/x"),
        ("example", "https://", "http://exa mple.com", "not a url"),
    ),
}
PATTERN_HARNESS = r"""
const [patterns, cases] = process.argv.slice(1).map((arg) => JSON.parse(arg));
const results = {};
for (const [rule, values] of Object.entries(cases)) {
  const pattern = new RegExp(patterns[rule]);
  results[rule] = values.map((value) => pattern.test(String(value).trim()));
}
process.stdout.write(JSON.stringify(results));
"""


@pytest.mark.slow
def test_each_pattern_accepts_and_refuses_what_its_rule_says() -> None:
    cases = {rule: [*good, *bad] for rule, (good, bad) in PATTERN_CASES.items()}
    result = subprocess.run(
        [node(), "-e", PATTERN_HARNESS, json.dumps(RULE_PATTERNS), json.dumps(cases)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    for rule, (good, bad) in PATTERN_CASES.items():
        expected = [True] * len(good) + [False] * len(bad)
        wrong = [
            v
            for v, got, want in zip(cases[rule], verdicts[rule], expected, strict=True)
            if got != want
        ]
        assert not wrong, f"{rule}: wrongly judged {wrong}"


@pytest.mark.slow
@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_generated_script_with_rules_passes_node_check(language: str, tmp_path: Path) -> None:
    files = generate(contact_form(language, endpoint=ENDPOINT))
    write_files(files, tmp_path)

    result = subprocess.run(
        [node(), "--check", str(tmp_path / "pages/contact/index.js")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def typed(spec: UISpec, widget_id: int, value: str) -> tuple[str, dict[str, Any]]:
    """The page's input event for widget ``widget_id``."""
    return (f"onInput_{field_names(spec)[widget_id]}", {"detail": {"value": value}})


@pytest.mark.slow
def test_the_page_refuses_a_badly_formatted_value(tmp_path: Path) -> None:
    spec = contact_form()
    outcome = run_page(
        tmp_path,
        spec,
        [
            typed(spec, 1, "李雷"),
            typed(spec, 2, "13812345678"),
            typed(spec, 3, "lilei.example.com"),
            ("onSubmit", {}),
        ],
        endpoint=ENDPOINT,
    )

    assert outcome["calls"] == [
        [
            "showToast",
            {
                "type": "fail",
                "content": "「邮箱」格式不正确，请输入有效的邮箱地址",
                "duration": 2000,
            },
        ]
    ]


@pytest.mark.slow
def test_a_missing_field_is_named_before_a_badly_formatted_one(tmp_path: Path) -> None:
    spec = contact_form("en")
    outcome = run_page(
        tmp_path, spec, [typed(spec, 3, "nope"), ("onSubmit", {})], endpoint=ENDPOINT
    )

    assert outcome["calls"] == [
        [
            "showToast",
            {"type": "fail", "content": "Please fill in \u201cName\u201d", "duration": 2000},
        ]
    ]


@pytest.mark.slow
def test_the_page_sends_well_formatted_values_and_skips_empty_ones(tmp_path: Path) -> None:
    spec = contact_form()
    outcome = run_page(
        tmp_path,
        spec,
        [
            typed(spec, 1, "李雷"),
            typed(spec, 2, "+86 138 1234 5678"),
            typed(spec, 3, " lilei@example.com "),
            typed(spec, 5, "12.5"),
            ("onSubmit", {}),
        ],
        endpoint=ENDPOINT,
    )

    (request, toast) = outcome["calls"]
    assert json.loads(request[1]["data"]) == {
        "input_1": "李雷",
        "input_2": "+86 138 1234 5678",
        "input_3": " lilei@example.com ",
        "input_4": "",
        "input_5": "12.5",
        "input_6": "",
        "textarea_7": "",
    }
    assert toast[1]["content"] == "提交成功"
