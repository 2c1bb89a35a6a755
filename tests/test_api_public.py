"""The public API stays callable: every function twice in one fresh process (issue 13.1)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import types

import pytest

import trlprep

# Runs in a fresh interpreter: the first call of each function is where it imports the
# submodules it needs (`trlprep.conversion.convert`, ...); the second call must still reach
# the function.
SCRIPT = textwrap.dedent(
    """
    import importlib, os, sys, tempfile, types
    import trlprep

    pref = [{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}]
    conv = [{"messages": [{"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello"}]}]
    ex = {"chosen": "The sky is blue.", "rejected": "The sky is green."}
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "in.jsonl")
    with open(path, "w") as f:
        f.write('{"text": "a"}\\n')
    CALLS = {
        "convert": lambda: trlprep.convert(pref, "unpaired"),
        "detect": lambda: trlprep.detect(pref),
        "validate": lambda: trlprep.validate(pref),
        "read": lambda: trlprep.read(path),
        "write": lambda: trlprep.write(
            trlprep.read(path).table, os.path.join(tmp, "out.parquet"), overwrite=True
        ),
        "get_type": lambda: trlprep.get_type("pref"),
        "apply_chat_template": lambda: trlprep.apply_chat_template(conv[0], "chatml"),
        "maybe_apply_chat_template": lambda: trlprep.maybe_apply_chat_template(
            conv[0], "chatml"
        ),
        "extract_prompt": lambda: trlprep.extract_prompt(ex),
        "maybe_extract_prompt": lambda: trlprep.maybe_extract_prompt(ex),
        "is_conversational": lambda: trlprep.is_conversational(conv[0]),
        "maybe_convert_to_chatml": lambda: trlprep.maybe_convert_to_chatml(conv[0]),
        "unpair_preference_dataset": lambda: trlprep.unpair_preference_dataset(pref),
        "maybe_unpair_preference_dataset": lambda: trlprep.maybe_unpair_preference_dataset(pref),
        "is_conversational_from_value": lambda: trlprep.is_conversational_from_value(
            {"conversations": [{"from": "human", "value": "Hi"}]}
        ),
        "prepare_multimodal_messages": lambda: trlprep.prepare_multimodal_messages(
            [{"role": "user", "content": "Hi"}]
        ),
        "prepare_multimodal_messages_vllm": lambda: trlprep.prepare_multimodal_messages_vllm(
            [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
        ),
        "pack_dataset": lambda: trlprep.pack_dataset([{"input_ids": [1, 2, 3]}], 4),
        "truncate_dataset": lambda: trlprep.truncate_dataset([{"input_ids": [1, 2, 3]}], 2),
        "get_dataset_column_names": lambda: trlprep.get_dataset_column_names(pref),
        "common_prefix_length": lambda: trlprep.common_prefix_length([1, 2], [1, 3]),
    }
    called = []
    for name in trlprep.__all__:
        if name not in CALLS:
            continue
        for attempt in (1, 2):
            fn = getattr(trlprep, name)
            assert callable(fn) and not isinstance(fn, types.ModuleType), (name, attempt, fn)
            CALLS[name]()
        called.append(name)
    # every module of the package imported: no public name turns into a module
    modules = ("conversion.convert", "detection.detect", "validation.validate", "io.readers")
    for mod in (*modules, "io.writers", "templates", "datareport"):
        importlib.import_module("trlprep." + mod)
    for name in trlprep.__all__:
        assert not isinstance(getattr(trlprep, name), types.ModuleType), name
    assert trlprep.convert(pref, "unpaired").__class__ is list
    print(" ".join(called))
    """
)


def test_every_public_function_twice_in_one_process():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    called = done.stdout.split()
    assert {"convert", "detect", "validate", "read", "write", "apply_chat_template"} <= set(called)


def test_public_names_are_never_submodules_here():
    import importlib

    for mod in ("trlprep.conversion", "trlprep.detection", "trlprep.validation.validate"):
        importlib.import_module(mod)
    for name in trlprep.__all__:
        assert not isinstance(getattr(trlprep, name), types.ModuleType), name
    assert trlprep.convert.__module__ == "trlprep.api"
    module = importlib.import_module("trlprep.conversion.convert")
    assert module.__name__ == "trlprep.conversion.convert"


def test_import_trlprep_loads_no_data_library():
    code = (
        "import sys, trlprep; "
        "print(','.join(m for m in ('pyarrow', 'polars', 'pandas', 'transformers', 'numpy', "
        "'rich', 'trlprep.importers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
    assert trlprep.__version__


def test_all_lists_exactly_the_lazy_names():
    assert sorted(trlprep.__all__) == sorted(trlprep._PUBLIC)


def test_the_importers_package_loads_its_names_on_first_use():
    """`trlprep.importers` loads an importer module only when one of its names is used (a
    command without `--from` loads none), and each name is the one its module defines."""
    code = (
        "import sys; from trlprep.importers import ImportOptions; "
        "print(','.join(m for m in sys.modules if m.startswith('trlprep.importers.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.strip().split(",")) == {
        "trlprep.importers.options",
        "trlprep.importers.columnmap",
    }
    import trlprep.importers as importers

    for name in importers.__all__:
        value = getattr(importers, name)
        module = importlib.import_module(importers._PUBLIC[name])
        assert getattr(module, name) is value, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        importers.nothing  # noqa: B018
