"""The pure logic of ``dsprep verify``: answer normalisation, the bundled questions, stream
delta assembly, tool-argument validation against the schema, the table and the JSON
document, the URL, the expectation a cluster file gives. No server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsprep import catalogue as C
from dsprep.errors import InputError
from dsprep.verify.expect import from_cluster, from_options
from dsprep.verify.questions import QUESTIONS_FILE, is_correct, load_questions, normalise_answer
from dsprep.verify.reply import StreamAssembly, arguments_problem, reply_from_message
from dsprep.verify.rows import CheckRow, Outcome, Status, VerifyReport, table_lines
from dsprep.verify.session import base_url
from dsprep.verify.toolcall import TOOL_NAME, TOOL_SCHEMA, judge
from tests.launch.conftest import example_document, write_cluster


@pytest.mark.parametrize(
    ("reply", "answer", "correct"),
    [
        (" Paris. ", "Paris", True),
        ("PARIS", "paris", True),
        ("12\n", "12", True),
        ("12.", "12", True),
        ("Paris, France", "Paris", False),
        ("", "Paris", False),
        (None, "Paris", False),
        ("1024.0", "1024", False),
    ],
)
def test_answers_compare_normalised(reply: str | None, answer: str, correct: bool) -> None:
    assert is_correct(reply, answer) is correct


def test_normalise_strips_one_trailing_period_only() -> None:
    assert normalise_answer("  Mice.  ") == "mice"
    assert normalise_answer("etc..") == "etc."


def test_bundled_questions_are_many_short_and_unique() -> None:
    questions = load_questions()
    assert len(questions) >= 24
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.question for q in questions}) == len(questions)
    for q in questions:
        assert len(q.answer.split()) == 1, q  # a number or one word
        assert normalise_answer(q.answer) == q.answer.casefold()
    assert QUESTIONS_FILE.name == "questions.json"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{}", "non-empty JSON list"),
        ('[{"id": "a", "question": "q"}]', r"item \[0\] needs"),
        ("not json", "cannot read questions file"),
    ],
)
def test_a_malformed_questions_file_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "q.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=problem):
        load_questions(path)


def test_stream_deltas_assemble_into_content_reasoning_and_tool_calls() -> None:
    assembly = StreamAssembly()
    deltas = [
        {"role": "assistant", "content": ""},
        {"reasoning": "think "},
        {"reasoning_content": "more"},
        {"content": "Calling"},
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get_weather"}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {"tool_calls": [{"index": 1, "function": {"name": "other", "arguments": "{}"}}]},
        {},
    ]
    carried = [assembly.add(d) for d in deltas]
    assert carried == [False, True, True, True, True, True, True, True, False]
    reply = assembly.reply()
    assert reply.content == "Calling"
    assert reply.reasoning == "think more"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("get_weather", '{"city": "Paris"}'),
        ("other", "{}"),
    ]
    assert reply.thinks


def test_a_message_reads_either_reasoning_field() -> None:
    new = reply_from_message({"content": "391", "reasoning": "17*23"})
    old = reply_from_message({"content": "391", "reasoning_content": "17*23"})
    none = reply_from_message({"content": "17*23</think>391", "reasoning": None})
    assert new.reasoning == old.reasoning == "17*23"
    assert none.reasoning == "" and none.thinks
    assert not reply_from_message({"content": "391"}).thinks


def test_tool_markers_in_content_are_seen() -> None:
    text = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{}"
    assert reply_from_message({"content": text}).has_tool_markers
    assert not reply_from_message({"content": 'get_weather{"city": "Paris"}'}).has_tool_markers


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('{"city": "Paris"}', None),
        ('{"city": "Paris"', "not JSON"),
        ('{"town": "Paris"}', "'city' is a required property"),
        ('{"city": 7}', "at city: 7 is not of type 'string'"),
        ('"Paris"', "is not of type 'object'"),
    ],
)
def test_arguments_validate_against_the_tool_schema(arguments: str, problem: str | None) -> None:
    found = arguments_problem(arguments, TOOL_SCHEMA)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_judge_wants_exactly_one_call_of_the_tool() -> None:
    ok = reply_from_message(
        {"tool_calls": [{"function": {"name": TOOL_NAME, "arguments": '{"city": "Paris"}'}}]}
    )
    wrong = reply_from_message(
        {"tool_calls": [{"function": {"name": "get_time", "arguments": '{"city": "Paris"}'}}]}
    )
    assert judge(ok) is None
    assert judge(wrong) == "the tool call names 'get_time', not 'get_weather'"
    assert judge(reply_from_message({})) == "0 tool calls instead of 1"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://10.0.0.1:8000", "http://10.0.0.1:8000"),
        ("http://10.0.0.1:8000/", "http://10.0.0.1:8000"),
        ("http://10.0.0.1:8000/v1/", "http://10.0.0.1:8000"),
        ("https://h.example/serve/v1", "https://h.example/serve"),
    ],
)
def test_base_url_drops_v1(url: str, base: str) -> None:
    assert base_url(url) == base


@pytest.mark.parametrize("url", ["10.0.0.1:8000", "ftp://h/", "http://", ""])
def test_a_url_that_is_no_server_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="is not an http"):
        base_url(url)


def _report() -> VerifyReport:
    report = VerifyReport("http://h:8000", "ds-v31", "ds-v31")
    report.rows.append(CheckRow("health", Status.PASS, "GET /health answered 200", {"status": 200}))
    failed = Outcome.failed(
        "accuracy smoke",
        C.VERIFY_ACCURACY("http://h:8000/v1/chat/completions", "3/26 correct"),
        accuracy=0.115,
    )
    failed.row.samples = [{"id": "q01", "expected": "12", "reply": "banana", "correct": False}]
    report.rows.append(failed.row)
    report.rows.append(CheckRow("tool call (streaming)", Status.SKIP, "tools are off"))
    return report


def test_table_shows_status_name_detail_and_figures() -> None:
    assert table_lines(_report()) == [
        "verify http://h:8000 (model ds-v31)",
        "",
        "PASS  health                 GET /health answered 200",
        "                             status=200",
        "FAIL  accuracy smoke         3/26 correct",
        "                             accuracy=0.115",
        "SKIP  tool call (streaming)  tools are off",
    ]


def test_json_has_every_figure_and_the_samples() -> None:
    document = json.loads(json.dumps(_report().to_json()))
    assert document["checks"][0] == {
        "name": "health",
        "status": "PASS",
        "detail": "GET /health answered 200",
        "figures": {"status": 200},
    }
    assert document["checks"][1]["figures"] == {"accuracy": 0.115}
    assert document["checks"][1]["samples"][0]["reply"] == "banana"
    assert document["model"] == document["expected_model"] == "ds-v31"


def test_a_cluster_file_gives_name_thinking_default_tools_and_parsers(tmp_path: Path) -> None:
    document = example_document()
    document["features"].update({"tools": True, "thinking_default": True})
    expect = from_cluster(write_cluster(tmp_path, document))
    assert (expect.served_name, expect.thinking_default, expect.tools) == ("ds-v31", True, True)
    assert expect.tool_parser == "deepseek_v31"
    assert expect.defaults_flag is None  # vLLM 0.11 has no --default-chat-template-kwargs
    assert "features.thinking_default in" in expect.where_thinking
    assert from_cluster(write_cluster(tmp_path, document), "other").served_name == "other"


def test_a_broken_cluster_file_stops_the_command(tmp_path: Path) -> None:
    document = example_document()
    del document["model"]
    with pytest.raises(InputError, match="missing required key 'model'"):
        from_cluster(write_cluster(tmp_path, document))


def test_options_alone_name_the_newest_release_parsers() -> None:
    expect = from_options(None, None, tools=False)
    assert expect.served_name is None and expect.thinking_default is None
    assert expect.reasoning_parser == "deepseek_v3"
    assert expect.defaults_flag == "--default-chat-template-kwargs"
