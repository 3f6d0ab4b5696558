import json

import pytest

from helpers.core.tasks import DataFormatError, Example, Task, load_jsonl_examples, save_jsonl_examples, with_few_shot


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_loads_messages_and_prompt_completion_rows(tmp_path):
    path = write_lines(
        tmp_path / "ok.jsonl",
        [
            json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}),
            "",
            json.dumps({"prompt": "2+2?", "completion": "4", "system": "Be brief."}),
        ],
    )
    examples = load_jsonl_examples(path)
    assert [ex.reference for ex in examples] == ["hello", "4"]
    assert examples[1].prompt == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]


def test_malformed_line_names_file_and_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps({"prompt": "a", "completion": "b"}), "{not json"])
    with pytest.raises(DataFormatError) as err:
        load_jsonl_examples(path)
    assert f"{path}, line 2" in str(err.value) and "not valid JSON" in str(err.value)


def test_missing_field_names_file_line_and_field(tmp_path):
    path = write_lines(
        tmp_path / "missing.jsonl",
        [
            json.dumps({"prompt": "a"}),
            json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]}),
        ],
    )
    with pytest.raises(DataFormatError) as err:
        load_jsonl_examples(path)
    message = str(err.value)
    assert "2 malformed row(s)" in message
    assert f"{path}, line 1: field 'completion' is missing" in message
    assert f"{path}, line 2: field 'messages[1].content' is missing" in message


def test_skip_mode_keeps_good_rows_and_warns(tmp_path):
    path = write_lines(tmp_path / "mixed.jsonl", [json.dumps({"prompt": "a", "completion": "b"}), "[1, 2]"])
    with pytest.warns(UserWarning, match="line 2"):
        examples = load_jsonl_examples(path, on_error="skip")
    assert len(examples) == 1


def test_last_message_must_be_the_answer(tmp_path):
    path = write_lines(tmp_path / "order.jsonl", [json.dumps({"messages": [{"role": "user", "content": "q"}]})])
    with pytest.raises(DataFormatError, match="last message must be the assistant"):
        load_jsonl_examples(path)


def test_save_and_load_round_trip(tmp_path, toy_examples):
    save_jsonl_examples(toy_examples, tmp_path / "rt.jsonl")
    assert [ex.messages for ex in load_jsonl_examples(tmp_path / "rt.jsonl")] == [ex.messages for ex in toy_examples]


def test_few_shot_puts_demonstrations_after_the_system_message():
    target = Example(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    )
    shot = Example(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "dq"}, {"role": "assistant", "content": "da"}]
    )
    assert [m["content"] for m in with_few_shot(target, [shot])] == ["S", "dq", "da", "q"]


def test_task_checks_prediction_count(toy_examples):
    task = Task("toy", toy_examples, toy_examples, scorer=lambda p, e: {}, headline_metric="x")
    with pytest.raises(ValueError, match="3 predictions for 4 examples"):
        task.score(["a", "b", "c"])
    assert task.dataset_info()["train_sha256"] == task.dataset_info()["eval_sha256"]


def test_unusable_files_raise_data_file_errors_naming_the_file(tmp_path):
    from helpers.core.tasks import DataFileError

    with pytest.raises(DataFileError, match=f"{tmp_path / 'none.jsonl'}: no such file"):
        load_jsonl_examples(tmp_path / "none.jsonl")
    with pytest.raises(DataFileError, match="is a folder"):
        load_jsonl_examples(tmp_path)
    with pytest.raises(DataFileError, match="empty.jsonl: no examples"):
        load_jsonl_examples(write_lines(tmp_path / "empty.jsonl", ["", "  "]))
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"prompt": "a", "completion": "b"}\n{"prompt": "caf\xe9", "completion": "b"}\n')
    with pytest.raises(DataFormatError) as err:
        load_jsonl_examples(latin1)
    assert err.value.problems == [f"{latin1}, line 2: not UTF-8 text (byte 0xe9 at column 16); save the file as UTF-8"]
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes(json.dumps({"prompt": "a", "completion": "b"}).encode("utf-16"))
    with pytest.raises(DataFileError, match="line 1: the file is UTF-16 text"):
        load_jsonl_examples(utf16)
    with pytest.warns(UserWarning), pytest.raises(DataFormatError, match="no usable example: all 1 row"):
        load_jsonl_examples(write_lines(tmp_path / "bad.jsonl", ["[1]"]), on_error="skip")


def test_a_utf8_byte_order_mark_is_tolerated(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"prompt": "a", "completion": "b"}).encode() + b"\r\n")
    assert [ex.reference for ex in load_jsonl_examples(path)] == ["b"]
