"""Chat templates, format detection and thinking removal (pure functions)."""

from __future__ import annotations

import pytest

from agent.models.templates import (
    ThinkingFilter,
    chat_format_from_metadata,
    chatml_prompt,
    gemma_prompt,
    get_template,
    strip_thinking,
)


def test_gemma_prompt_folds_system_into_the_single_user_turn() -> None:
    assert gemma_prompt("Be brief.", "What meds?") == (
        "<bos><start_of_turn>user\nBe brief.\n\nWhat meds?<end_of_turn>\n<start_of_turn>model\n"
    )


def test_gemma_prompt_without_system_text_has_no_blank_lines() -> None:
    assert (
        gemma_prompt("", "Hi")
        == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    )


def test_chatml_prompt_keeps_a_system_role() -> None:
    assert chatml_prompt("Be brief.", "What meds?") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhat meds?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert chatml_prompt("", "Hi") == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_templates_stop_on_their_end_of_turn_marker() -> None:
    assert get_template("gemma").stop[0] == "<end_of_turn>"
    assert get_template("chatml").stop[0] == "<|im_end|>"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"general.architecture": "gemma3"}, "gemma"),
        ({"general.architecture": "gemma2"}, "gemma"),
        ({"general.architecture": "gemma"}, "gemma"),
        (
            {"general.architecture": "llama", "tokenizer.chat_template": "{{'<|im_start|>'}}"},
            "chatml",
        ),
    ],
)
def test_chat_format_is_read_from_gguf_metadata(metadata: dict[str, str], expected: str) -> None:
    assert chat_format_from_metadata(metadata) == expected


def test_explicit_chat_format_overrides_metadata() -> None:
    assert chat_format_from_metadata({"general.architecture": "gemma3"}, "chatml") == "chatml"


def test_unknown_format_error_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"chat_format= one of: gemma, chatml") as info:
        chat_format_from_metadata({"general.architecture": "llama"}, source="x.gguf")
    assert "x.gguf" in str(info.value)
    with pytest.raises(ValueError, match="gemma, chatml"):
        get_template("llama-2")


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("plain answer", "plain answer"),
        ("<unused94>thought\nstep<unused95>The answer.", "The answer."),
        ("<unused94>a<unused95>one <unused94>b<unused95>two", "one two"),
        ("<unused94>thinking that never ends", ""),
        ("Answer first.<unused94>then a cut-off thought", "Answer first."),
        ("thought whose opener was cut<unused95>\nAnswer", "Answer"),
        ("", ""),
    ],
)
def test_strip_thinking(raw: str, visible: str) -> None:
    assert strip_thinking(raw) == visible


@pytest.mark.parametrize(
    "raw",
    [
        "<unused94>thought<unused95> The answer [Patient/1].",
        "no thinking at all <unused9 lookalike>",
        "<unused94>never closed",
        "a<unused94>x<unused95>b<unused94>y<unused95>c",
    ],
)
def test_thinking_filter_matches_strip_thinking_at_every_split(raw: str) -> None:
    """Streamed pieces can split a marker anywhere; the visible text must not change."""
    for size in range(1, len(raw) + 1):
        stream = ThinkingFilter()
        out = [stream.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
        out.append(stream.flush())
        assert "".join(out) == strip_thinking(raw), size
