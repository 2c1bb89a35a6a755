"""Rewards for generated completions: reward functions and reward models, combined with weights.

A reward function is called as TRL calls one,
`fn(prompts=..., completions=..., completion_ids=..., **columns)`, with one entry per
completion: the prompts (message lists for conversational data, text otherwise), the
completions (`[{"role": "assistant", "content": text}]` for conversational data), their token
ids and every other column of the dataset. It returns one float per completion, or None for
"no score". `--reward-fn` takes `module:function`, `path/to/file.py:function` or a built-in:

- `length` (the completion's length in characters; `length=N`: minus its distance to N),
- `regex=PATTERN` (1.0 when the completion matches PATTERN from its start, else 0.0),
- `exact` / `exact=COLUMN` (1.0 when the stripped completion equals the row's COLUMN,
  default the first of `answer`, `ground_truth`, `solution`, `final_answer` the data has;
  None where the column is empty).

A reward model (`--reward-model PATH`, a sequence-classification model such as one trained
by `trlprep train --algo reward`) scores prompt + completion as it was trained: the same
token ids when it shares the policy's vocabulary, otherwise the texts rendered and tokenised
for it by the project's own templating and tokenisation (EOS appended to standard text).

The combined reward is the weighted sum of the scores that are not None; a completion no
source scores gets NaN (the algorithms give it no advantage).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trlprep.errors import InputError, UsageError

RewardFn = Callable[..., list[float | None]]


# ------------------------------------------------------------------ built-in reward functions


def _text(completion: Any) -> str:
    """A completion's text, conversational ones included."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def length_reward(target: int | None = None) -> RewardFn:
    """Length in characters, or minus the distance to `target` characters."""

    def length(completions: list, **_: Any) -> list[float | None]:
        sizes = [len(_text(c)) for c in completions]
        return [float(n) if target is None else -float(abs(n - target)) for n in sizes]

    return length


def regex_reward(pattern: str) -> RewardFn:
    """1.0 where the completion matches `pattern` from its start (re.DOTALL), else 0.0."""
    try:
        rx = re.compile(pattern, re.DOTALL)
    except re.error as e:
        raise UsageError(f"--reward-fn regex={pattern!r}: {e}") from None

    def regex(completions: list, **_: Any) -> list[float | None]:
        return [1.0 if rx.match(_text(c)) else 0.0 for c in completions]

    return regex


# the columns plain `exact` reads, the first the data has: GSM8K's `answer`, the Tulu 3 /
# open-instruct RLVR `ground_truth`, `solution`, Open-Reasoner-Zero's `final_answer`
EXACT_COLUMNS = ("answer", "ground_truth", "solution", "final_answer")
# what every reward function is called with beside the data's columns
_CALL_ARGS = ("prompts", "completions", "completion_ids")


def exact_reward(column: str | None = None) -> RewardFn:
    """1.0 where the stripped completion equals the row's `column` (stripped), else 0.0
    (GSM8K answers by their final `#### N`); without a column, the first of `EXACT_COLUMNS`
    the data has."""

    def exact(completions: list, **columns: Any) -> list[float | None]:
        name = column or next((c for c in EXACT_COLUMNS if c in columns), None)
        if name is None or name not in columns:
            data = sorted(c for c in columns if c not in _CALL_ARGS)
            others = ", ".join(map(repr, EXACT_COLUMNS[1:]))
            wanted = repr(name) if name else f"{EXACT_COLUMNS[0]!r} (or {others})"
            raise UsageError(
                f"the exact-match reward needs the column {wanted} in the data",
                hint=f"the data's columns: {', '.join(data) or 'none'}; use exact=COLUMN",
            )
        answers = columns[name]
        return [
            None if a is None else float(_matches(_text(c), str(a)))
            for c, a in zip(completions, answers, strict=True)
        ]

    return exact


def _matches(completion: str, answer: str) -> bool:
    """The stripped texts are equal; an answer in GSM8K's form (its reasoning, then `#### N`)
    is its final N, met by a completion that is N or ends `#### N` likewise."""
    if "####" in answer:
        answer = answer.rpartition("####")[2]
        completion = completion.rpartition("####")[2]
    return completion.strip() == answer.strip()


BUILTINS: dict[str, Callable[..., RewardFn]] = {
    "length": lambda arg=None: length_reward(None if arg is None else int(arg)),
    "regex": lambda arg=None: regex_reward(arg or ".*"),
    "exact": lambda arg=None: exact_reward(arg or None),
}


def resolve(spec: str | Callable[..., Any]) -> tuple[str, RewardFn]:
    """(name, function) of a reward function given as a callable, a built-in name
    (`name` or `name=ARG`), `module:function` or `path/to/file.py:function`."""
    if callable(spec):
        return getattr(spec, "__name__", type(spec).__name__), spec
    name, eq, arg = spec.partition("=")
    if name in BUILTINS and (eq or ":" not in spec):
        try:
            return name, BUILTINS[name](arg if eq else None)
        except ValueError:
            raise UsageError(f"bad argument for the {name} reward: {arg!r}") from None
    module, colon, attr = spec.rpartition(":")
    if not colon or not module or not attr:
        raise UsageError(
            f"unknown reward function {spec!r}",
            hint="use module:function, path/to/file.py:function, or a built-in: "
            + ", ".join(BUILTINS),
        )
    mod = _load_module(module)
    fn = getattr(mod, attr, None)
    if not callable(fn):
        names = [n for n, v in vars(mod).items() if _is_function(n, v)]
        raise InputError(
            f"{module} has no function {attr!r}",
            hint="functions there: " + (", ".join(names[:10]) or "none"),
        )
    return attr, fn


def _is_function(name: str, value: Any) -> bool:
    return callable(value) and not name.startswith("_") and not isinstance(value, type)


def _load_module(module: str) -> Any:
    """A reward function's module: a `.py` file, or an importable module name. Any error
    while running it is reported as the module's (no traceback)."""
    if module.endswith(".py"):
        path = Path(module)
        if not path.is_file():
            raise InputError(f"reward function file {module!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"trlprep_reward_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise InputError(f"cannot load reward function file {module!r}")
        mod = importlib.util.module_from_spec(spec)
        run = lambda: spec.loader.exec_module(mod)  # noqa: E731
    else:
        mod = None
        run = lambda: importlib.import_module(module)  # noqa: E731
    try:
        got = run()
    except ImportError as e:
        raise InputError(f"cannot import reward module {module!r}: {e}") from None
    except Exception as e:  # the user's module failed while it was loaded
        raise InputError(
            f"reward module {module!r} failed while loading: {type(e).__name__}: {e}",
            hint="run it with python to see where",
        ) from None
    return got if mod is None else mod


# ------------------------------------------------------------------ reward models


class RewardModel:
    """A sequence-classification model scoring prompt + completion (its score for the last
    token, as it was trained)."""

    def __init__(
        self,
        path: str,
        tokenizer: Any,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        batch_size: int = 8,
    ) -> None:
        from trlprep.trainers.models import frozen_copy, load_model, load_tokenizer

        self.name = Path(path).name or path
        self.tokenizer = load_tokenizer(path)
        model = load_model(
            path, "sequence-classification", self.tokenizer, dtype, trained_head="reward model"
        )
        self.model = frozen_copy(model).to(device)
        self.device, self.batch_size = device, batch_size
        self.shares_ids = self.tokenizer.get_vocab() == tokenizer.get_vocab()

    def _ids(self, prompts: list[Any], completions: list[str], ids: list[list[int]]) -> list:
        if self.shares_ids:
            return ids
        import pyarrow as pa

        from trlprep.templates.tokenize import tokenize_table

        if isinstance(prompts[0], list):  # conversational: the reward model's own template
            from trlprep.api import convert

            messages = [
                list(p) + [{"role": "assistant", "content": c}]
                for p, c in zip(prompts, completions, strict=True)
            ]
            table = convert(
                pa.table({"messages": messages}),
                chat_template=self.tokenizer,
                tokenizer=self.tokenizer,
            )
            templated = True
        else:
            texts = [str(p) + c for p, c in zip(prompts, completions, strict=True)]
            table, templated = pa.table({"text": texts}), False
        table, _ = tokenize_table(
            table, "language-modeling", self.tokenizer, add_eos=not templated, templated=templated
        )
        return table.column("input_ids").to_pylist()

    @torch.no_grad()
    def __call__(
        self, prompts: list[Any], completions: list[str], ids: list[list[int]]
    ) -> list[float]:
        """Scores of each prompt + completion (`ids`: the policy's token ids of them)."""
        seqs = self._ids(prompts, completions, ids)
        pad = self.tokenizer.pad_token_id
        out: list[float] = []
        for start in range(0, len(seqs), self.batch_size):
            chunk = seqs[start : start + self.batch_size]
            width = max(len(s) for s in chunk)
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros_like(input_ids)
            for i, s in enumerate(chunk):
                input_ids[i, : len(s)] = torch.as_tensor(s)
                mask[i, : len(s)] = 1
            logits = self.model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            out += logits[:, 0].float().tolist()
        return out


# ------------------------------------------------------------------ combining


@dataclass
class Scores:
    """Each source's scores `(n, sources)` (NaN for None) and their weighted sum `(n,)`."""

    per_source: Tensor
    names: list[str]
    weights: Tensor

    @property
    def total(self) -> Tensor:
        unscored = torch.isnan(self.per_source).all(-1)
        total = torch.nansum(self.per_source * self.weights, dim=-1)
        return torch.where(unscored, torch.full_like(total, math.nan), total)


class Rewards:
    """Reward functions and reward models with their weights (default 1.0 each)."""

    def __init__(
        self,
        funcs: Sequence[str | Callable[..., Any]] = (),
        models: Sequence[RewardModel] = (),
        weights: Sequence[float] | None = None,
    ) -> None:
        resolved = [resolve(f) for f in funcs]
        self.funcs = [fn for _, fn in resolved]
        self.models = list(models)
        names = [n for n, _ in resolved] + [m.name for m in self.models]
        self.names = _unique(names)
        if not self.names:
            raise UsageError(
                "no reward: online algorithms need a reward function or a reward model",
                hint="add --reward-fn module:function (or a built-in: "
                + ", ".join(BUILTINS)
                + ") or --reward-model PATH",
            )
        if weights is None:
            weights = [1.0] * len(self.names)
        if len(weights) != len(self.names):
            raise UsageError(
                f"{len(self.names)} rewards ({', '.join(self.names)}) but {len(weights)} "
                "reward weights",
                hint="give one --reward-weights value per reward function and model",
            )
        self.weights = torch.tensor([float(w) for w in weights])

    def __call__(
        self,
        prompts: list[Any],
        completions: list[Any],
        completion_ids: list[list[int]],
        sequence_ids: list[list[int]],
        columns: dict[str, list],
    ) -> Scores:
        """Scores of `n` completions; `columns` are the dataset's other columns, one value
        per completion; `sequence_ids` are prompt + completion ids (for reward models)."""
        n = len(completions)
        cols = []
        for name, fn in zip(self.names, self.funcs, strict=False):
            cols.append(_call(name, fn, n, prompts, completions, completion_ids, columns))
        texts = [_text(c) for c in completions]
        for model in self.models:
            cols.append(model(prompts, texts, sequence_ids))
        per = torch.tensor(
            [[math.nan if v is None else float(v) for v in row] for row in zip(*cols, strict=True)],
            dtype=torch.float32,
        ).reshape(n, len(cols))
        return Scores(per, self.names, self.weights)


def _call(
    name: str,
    fn: RewardFn,
    n: int,
    prompts: list,
    completions: list,
    completion_ids: list,
    columns: dict[str, list],
) -> list[float | None]:
    try:
        got = fn(prompts=prompts, completions=completions, completion_ids=completion_ids, **columns)
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(
            f"reward function {name} failed: {type(e).__name__}: {e}",
            hint="it is called with prompts=, completions=, completion_ids= and every other "
            "dataset column as keywords; accept **kwargs",
        ) from e
    got = list(got) if got is not None else []
    if len(got) != n:
        raise UsageError(f"reward function {name} returned {len(got)} values for {n} completions")
    bad = [v for v in got if v is not None and not isinstance(v, (int, float))]
    if bad:
        raise UsageError(
            f"reward function {name} returned {type(bad[0]).__name__} values",
            hint="return one float (or None for no score) per completion",
        )
    return got


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out
