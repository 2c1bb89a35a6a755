"""Real test data of modelscope/ms-swift (`tests/llm/data`): its own `query` / `response` /
`history` / `system` layout (JSON Lines and CSV), its `conversation` of `{human, assistant}`
pairs, an alpaca CSV whose `system` is written `00000`, and images given beside the text
with no placeholder."""

from __future__ import annotations

import json

import pytest
from realdata.support import HERE, counts, original_render, rows_of, run

DATA = HERE / "swift_llm_data"
SINGLE, MULTI, CSV = (
    DATA / "swift_single.jsonl",
    DATA / "swift_multi.jsonl",
    DATA / "swift_single.csv",
)
PAIRS, ALPACA = DATA / "sharegpt.jsonl", DATA / "alpaca.csv"


def _said(res) -> str:
    return " ".join(res.output.split())


def test_detect_reads_the_swift_layout_not_a_map_that_drops_history_and_system():
    res = run("detect", MULTI)
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "type prompt-completion (the swift layout, imported as convert does)" in text
    assert "format conversational" in text
    assert "--from swift" in text
    # the old advice made three-turn rows one-turn and left `system` out of the prompt
    assert "--map prompt=query,completion=response" not in text


def test_query_response_history_system_become_the_conversation(tmp_path):
    out = tmp_path / "pc.jsonl"
    res = run("convert", MULTI, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    got = rows_of(out)
    assert got[0] == {
        "prompt": [{"role": "system", "content": "00000"}, {"role": "user", "content": "55555"}],
        "completion": [{"role": "assistant", "content": "66666"}],
    }
    assert got[1]["prompt"] == [{"role": "user", "content": "eeeee"}]  # `history: []`
    assert got[2] == {
        "prompt": [
            {"role": "user", "content": "AAAAA"},
            {"role": "assistant", "content": "BBBBB"},
            {"role": "user", "content": "CCCCC"},
            {"role": "assistant", "content": "DDDDD"},
            {"role": "user", "content": "EEEEE"},
        ],
        "completion": [{"role": "assistant", "content": "FFFFF"}],
    }


def test_the_csv_keeps_a_system_written_00000_as_its_text(tmp_path):
    jsonl, csv = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run("convert", SINGLE, "-o", jsonl).exit_code == 0
    res = run("convert", CSV, "-o", csv)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    # CSV's empty `system` fields are no system message, as the JSON Lines' absent key
    assert rows_of(csv) == rows_of(jsonl)
    assert rows_of(csv)[0]["prompt"][0] == {"role": "system", "content": "00000"}


def test_an_alpaca_csv_whose_system_is_digits_reads(tmp_path):
    out = tmp_path / "a.jsonl"
    res = run("convert", ALPACA, "-o", out)  # was: column 'system' must hold text, not int64
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    got = rows_of(out)
    assert got[0] == {
        "prompt": "00000\n\n### Instruction:\n11111\n\n### Input:\n22222\n\n### Response:",
        "completion": "3.3",
    }
    assert got[1]["prompt"].startswith("Below is an instruction that describes a task. Write")


def test_conversation_pairs_become_messages(tmp_path):
    res = run("detect", PAIRS)
    assert "language-modeling (the swift layout" in _said(res), res.output
    out = tmp_path / "lm.jsonl"
    res = run("convert", PAIRS, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    got = rows_of(out)
    assert got[0]["messages"] == [
        {"role": "system", "content": "00000"},
        {"role": "user", "content": "11111"},
        {"role": "assistant", "content": "22222"},
    ]
    assert [m["content"] for m in got[2]["messages"]] == [c * 5 for c in "ABCDEF"]


@pytest.mark.parametrize("path", [MULTI, PAIRS])
def test_validate_names_the_layout_and_checks_it_imported(path):
    res = run("validate", path)
    assert res.exit_code == 1, res.output
    assert "`trlprep convert DATA --from swift -o OUT`" in _said(res)
    res = run("validate", path, "--from", "swift")
    assert res.exit_code == 0, res.output
    assert "valid: 3 rows" in res.output


def test_report_counts_the_history_turns():
    res = run("report", MULTI)
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "read as the swift layout" in text
    assert "conversation: 2-6 turns" in text


def test_rows_that_cannot_be_imported_are_set_aside_with_their_line(tmp_path):
    rows = [
        {"query": "q", "response": "r", "history": [["only one"]]},
        {"query": "q", "response": None},
        {"query": "q", "response": "r"},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run("convert", path, "--on-error", "skip", "-o", tmp_path / "o.jsonl")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 2, 1, 1)
    text = _said(res)
    assert "history: an item is not a pair [query, response] (e.g. line 1)" in text
    assert "response is null (e.g. line 2)" in text


def test_rejected_response_lands_on_preference(tmp_path):
    path = tmp_path / "dpo.jsonl"
    row = {"system": "Be brief.", "query": "2+2?", "response": "4", "rejected_response": "5"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "p.jsonl"
    res = run("convert", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert "swift -> preference (conversational)" in res.output
    assert rows_of(out) == [
        {
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "2+2?"},
            ],
            "chosen": [{"role": "assistant", "content": "4"}],
            "rejected": [{"role": "assistant", "content": "5"}],
        }
    ]


MM2 = DATA / "multi_modal_2.jsonl"
PLACED = "images given with no `<image>` placeholder or image part were placed at the start"


def _conversation(row: dict) -> tuple[list[dict], list[dict]]:
    """ms-swift's row as its own string messages (prompt, completion), no image placed."""
    prompt = []
    for query, response in row.get("history") or []:
        prompt += [{"role": "user", "content": query}, {"role": "assistant", "content": response}]
    prompt.append({"role": "user", "content": row["query"]})
    return prompt, [{"role": "assistant", "content": row["response"]}]


def test_images_with_no_placeholder_go_before_the_first_user_message_as_trl_puts_them(tmp_path):
    out = tmp_path / "o.jsonl"
    res = run("convert", MM2, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    assert f"3 rows (lines 1, 2, 3): {PLACED}" in _said(res)
    image, text = {"type": "image"}, lambda t: {"type": "text", "text": t}
    got = rows_of(out)
    assert got[0]["prompt"] == [{"role": "user", "content": [image, text("55555")]}]
    # three images, all before the first question (ms-swift puts its tags there too)
    assert got[2]["prompt"][0] == {"role": "user", "content": [image, image, image, text("AAAAA")]}
    assert [m["content"] for m in got[2]["prompt"][1:]] == [
        [text("BBBBB")],
        [text("CCCCC")],
        [text("DDDDD")],
        [text("EEEEE")],
    ]
    assert [len(r["images"]) for r in got] == [1, 1, 3]


def test_validate_says_where_the_images_will_go():
    res = run("validate", MM2, "--from", "swift")
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "warning: media-unplaced: 3 rows, lines 1, 2, 3" in text
    assert "as TRL's prepare_multimodal_messages does" in text


@pytest.mark.parametrize("template", ["qwen2_5_vl", "qwen3_vl", "llava_next", "idefics3"])
def test_placed_images_render_as_the_original_template_of_trls_messages(tmp_path, template):
    from realdata.support import original_template_args

    from trlprep import prepare_multimodal_messages  # TRL's, mirrored (test_trl_data_utils)

    out = tmp_path / "r.jsonl"
    res = run("convert", MM2, *original_template_args(template), "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    raw = rows_of(MM2)
    for got, row in zip(rows_of(out), raw, strict=True):
        prompt, completion = _conversation(row)
        prompt = prepare_multimodal_messages(prompt, images=row["images"])
        completion = prepare_multimodal_messages(completion)
        assert got["prompt"] == original_render(template, prompt, add_generation_prompt=True)
        whole = original_render(template, prompt + completion)
        assert got["prompt"] + got["completion"] == whole
    # the images stand in the text: the render without them differs
    bare = prepare_multimodal_messages(_conversation(row)[0])
    assert got["prompt"] != original_render(template, bare, add_generation_prompt=True)


@pytest.mark.parametrize("template", ["qwen2_5", "llama3_1"])
def test_renders_equal_the_original_template(tmp_path, template):
    from realdata.support import original_template_args

    out = tmp_path / "r.jsonl"
    res = run("convert", MULTI, *original_template_args(template), "-o", out, "--num-proc", "1")
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    plain = tmp_path / "pc.jsonl"
    assert run("convert", MULTI, "-o", plain).exit_code == 0
    for got, rows in zip(rows_of(out), rows_of(plain), strict=True):
        prompt = original_render(template, rows["prompt"], add_generation_prompt=True)
        assert got["prompt"] == prompt
        whole = original_render(template, rows["prompt"] + rows["completion"])
        assert got["prompt"] + got["completion"] == whole


DEMO = "https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen-VL/assets/demo.jpeg"


def test_qwen_vl_img_tags_become_images_where_they_stand(tmp_path):
    path = DATA / "multi_modal_1.jsonl"
    res = run("detect", path)
    assert "vision yes" in _said(res), res.output
    out = tmp_path / "mm.jsonl"
    res = run("convert", path, "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (3, 0, 3, 3)
    got = rows_of(out)
    image, text = {"type": "image"}, lambda t: {"type": "text", "text": t}
    assert got[0]["prompt"] == [{"role": "user", "content": [image, text("55555")]}]
    assert got[0]["images"] == [DEMO]
    assert got[1]["prompt"][-1] == {"role": "user", "content": [image, image, text("eeeee")]}
    assert got[1]["images"] == [DEMO, DEMO]
    assert got[2]["images"] == []
    # was: the tags kept as text, `vision no`, the image never reaching a template
    assert "<img>" not in out.read_text(encoding="utf-8")


def test_img_tags_beside_an_images_column_are_refused(tmp_path):
    rows = [
        {"query": "<img>a.png</img>What?", "response": "A cat.", "images": ["b.png"]},
        {"query": "<image>What?", "response": "A dog.", "images": ["c.png"]},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = run("convert", path, "--from", "swift", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    assert "holds Qwen-VL <img> tags and an images column" in _said(res)
    assert rows_of(out)[0]["images"] == ["c.png"]


def test_img_tags_render_as_the_original_vision_template(tmp_path):
    from realdata.support import original_template_args

    path = DATA / "multi_modal_1.jsonl"
    plain, out = tmp_path / "pc.jsonl", tmp_path / "r.jsonl"
    assert run("convert", path, "-o", plain).exit_code == 0
    res = run("convert", path, *original_template_args("qwen2_5_vl"), "-o", out)
    assert res.exit_code == 0, res.output
    for got, rows in zip(rows_of(out), rows_of(plain), strict=True):
        whole = original_render("qwen2_5_vl", rows["prompt"] + rows["completion"])
        assert got["prompt"] + got["completion"] == whole
    assert rows_of(out)[0]["prompt"].count("<|image_pad|>") == 1


# ms-swift's DPO rows as its custom-dataset guide describes them (no sample file in the repo)
DPO_ROWS = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ],
        "rejected_response": "5",
    },
    {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye?"},
        ],
        "rejected_response": "No",
    },
]


def test_messages_with_a_rejected_response_are_preference_not_language_modeling(tmp_path):
    path = tmp_path / "dpo.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in DPO_ROWS), encoding="utf-8")
    res = run("detect", path)
    # was: language modeling on `messages`, the rejected answer carried unread
    assert "type preference (the swift layout, imported as convert does)" in _said(res)
    out = tmp_path / "p.jsonl"
    res = run("convert", path, "--from", "swift", "--on-error", "skip", "-o", out)
    assert res.exit_code == 0, res.output
    assert counts(res.output) == (2, 1, 1, 1)
    assert "the last message is not the assistant's (chosen) answer (e.g. line 2)" in _said(res)
    assert rows_of(out) == [
        {
            "prompt": DPO_ROWS[0]["messages"][:2],
            "chosen": DPO_ROWS[0]["messages"][2:],
            "rejected": [{"role": "assistant", "content": "5"}],
        }
    ]


def test_plain_query_response_is_no_swift_sign(tmp_path):
    # MetaMathQA-like rows: nothing ms-swift's own, so no silent conversational landing
    rows = [{"query": "2+2?", "response": "4", "type": "GSM_Rephrased"}]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = run("detect", path)
    assert "--map prompt=query,completion=response" in res.output
    out = tmp_path / "o.jsonl"
    assert run("convert", path, "--from", "swift", "-o", out).exit_code == 0
    assert rows_of(out)[0]["completion"] == [{"role": "assistant", "content": "4"}]


@pytest.mark.parametrize("name", ["multi_modal_1.jsonl", "multi_modal_2.jsonl"])
def test_report_reads_prompts_of_parts_beside_completions_of_strings(name):
    res = run("report", DATA / name)
    # was: a polars error (the prompt's parts and the completion's strings in one list)
    assert res.exit_code == 0, res.output
    assert "prompt-completion (conversational), 3 rows" in res.output
    assert "images in" in res.output


def test_an_explicit_map_of_query_response_says_from_swift_reads_history_and_system(tmp_path):
    mapped, plain = tmp_path / "mapped.jsonl", tmp_path / "plain.jsonl"
    res = run("convert", MULTI, "--map", "prompt=query,completion=response", "-o", mapped)
    assert res.exit_code == 0, res.output
    text = _said(res)
    assert "columns 'history', 'system' of ms-swift's layout are carried unread" in text
    assert "--from swift reads them" in text
    assert counts(res.output) == (3, 0, 3, 3)
    # the output is the map's, as before: the columns carried as they were
    assert rows_of(mapped)[2]["history"] == [["AAAAA", "BBBBB"], ["CCCCC", "DDDDD"]]
    assert rows_of(mapped)[0]["system"] == "00000"
    # --conversational reads `system`: only `history` is left unread
    res = run(
        "convert",
        MULTI,
        "--map",
        "prompt=query,completion=response",
        "--conversational",
        "-o",
        plain,
    )
    assert res.exit_code == 0, res.output
    (warned,) = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert "column 'history' of ms-swift's layout is carried unread" in warned
    assert "'system'" not in warned


def test_a_map_of_plain_query_response_warns_of_nothing(tmp_path):
    src = tmp_path / "qa.jsonl"
    src.write_text(json.dumps({"query": "q", "response": "r", "source": "x"}) + "\n")
    res = run("convert", src, "--map", "prompt=query,completion=response", "-o", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "ms-swift" not in res.output
