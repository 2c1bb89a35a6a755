"""`check-template`: probe a chat template (and a sample of data) for the bugs that spoil training.

Each check is pass / warn / fail with an explanation; any fail makes the CLI exit 1.
Probes are small fixed conversations; data checks render a sample of the dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from trlprep.templates.template import ChatTemplate, RenderError

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


@dataclass
class Check:
    """One check: its name, outcome and what it means."""

    name: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "status": self.status, "message": self.message}
        if self.details:
            d["details"] = self.details
        return d


@dataclass
class CheckReport:
    """All checks of one template (and data sample)."""

    template: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "ok": not self.failed,
            "checks": [c.to_dict() for c in self.checks],
        }


def _u(text: str) -> dict:
    return {"role": "user", "content": text}


def _a(text: str, **extra: Any) -> dict:
    return {"role": "assistant", "content": text, **extra}


SYSTEM = {"role": "system", "content": "You are a careful assistant (probe S)."}
EXCHANGES = [
    (_u("First probe question?"), _a("First probe answer.")),
    (_u("Second probe question?"), _a("Second probe answer.")),
]


def _try(fn: Callable[[], str]) -> tuple[str | None, str | None]:
    try:
        return fn(), None
    except RenderError as e:
        return None, e.message


def check_template(
    template: ChatTemplate,
    *,
    tokenizer: Any = None,
    table: pa.Table | None = None,
    max_length: int | None = None,
    sample: int = 1000,
    seed: int = 0,
    lines: Any = None,
    shards: Any = None,
) -> CheckReport:
    """Run the template probes, and the data checks when `table` (conversational) is given;
    its rows are named by their file `lines` (and `shards`' files) when given, as `validate`
    names them."""
    report = CheckReport(template.name)
    add = report.checks.append
    add(Check("template present", PASS, f"{template.name} ({template.origin}) compiles"))
    for probe in (
        _system_role,
        _alternation,
        _generation_prompt,
        _prefix_consistent,
        _prefix_preserving,
        _eos_once,
        _generation_markers,
        _history_vs_turns,
    ):
        add(probe(template))
    add(_bos_not_duplicated(template, tokenizer))
    if table is not None:
        from trlprep.templates.checkdata import check_data

        report.checks.extend(
            check_data(template, table, tokenizer, max_length, sample, seed, lines, shards)
        )
    return report


def _system_role(t: ChatTemplate) -> Check:
    text, error = _try(lambda: t.render([SYSTEM, EXCHANGES[0][0]], add_generation_prompt=True))
    if error:
        return Check("system role", WARN, f"a system turn is refused: {error}")
    if "probe S" not in text:
        return Check("system role", WARN, "a system turn renders, but its text is dropped")
    return Check("system role", PASS, "system turns are rendered")


def _alternation(t: ChatTemplate) -> Check:
    u, _ = EXCHANGES[0]
    _, error = _try(lambda: t.render([u, EXCHANGES[1][0]], add_generation_prompt=True))
    if error:
        return Check(
            "roles alternate",
            WARN,
            f"two user turns in a row raise: {error}; rows must alternate user/assistant",
        )
    return Check("roles alternate", PASS, "consecutive turns of one role are accepted")


def _generation_prompt(t: ChatTemplate) -> Check:
    u, a = EXCHANGES[0]
    with_gp, e1 = _try(lambda: t.render([u], add_generation_prompt=True))
    without, e2 = _try(lambda: t.render([u]))
    if e1 or e2:
        return Check("generation prompt", FAIL, f"a single user turn does not render: {e1 or e2}")
    if with_gp != without:
        base = without.removesuffix(t.eos_token) if t.eos_token else without
        start = len(base) if with_gp.startswith(base) else len(_common(with_gp, without))
        added = with_gp[start:]
        return Check("generation prompt", PASS, f"adds {added!r}", {"generation_prompt": added})
    try:
        _, completion, _ = _split(t, [u], [a])
    except RenderError as e:
        return Check("generation prompt", FAIL, f"a user/assistant exchange fails: {e.message}")
    if completion.startswith(a["content"]):
        return Check(
            "generation prompt",
            PASS,
            "add_generation_prompt adds nothing, and none is needed: the user turn already "
            "ends with the assistant cue",
        )
    return Check(
        "generation prompt",
        WARN,
        "add_generation_prompt adds nothing, so completions start with the assistant header "
        f"({completion[:40]!r}): the model must learn to generate the header itself",
    )


def _split(t: ChatTemplate, prompt: list, completion: list) -> tuple[str, str, bool]:
    alone = t.render(prompt, add_generation_prompt=True)
    full = t.render(prompt + completion)
    n = len(alone) if full.startswith(alone) else len(_common(alone, full))
    return full[:n], full[n:], full.startswith(alone)


def _common(a: str, b: str) -> str:
    import os

    return os.path.commonprefix([a, b])


def _prefix_consistent(t: ChatTemplate) -> Check:
    bad = []
    for prompt, completion in _probe_pairs():
        try:
            alone = t.render(prompt, add_generation_prompt=True)
            full = t.render(prompt + completion)
        except RenderError:
            continue
        if not full.startswith(alone):
            common = _common(alone, full)
            bad.append(alone[len(common) :])
    if bad:
        return Check(
            "prompt is a prefix",
            WARN,
            "the prompt rendered alone is not a prefix of prompt+completion; TRL (and trlprep) "
            f"cut it to the common prefix, dropping {bad[0]!r} — the model trains on a context "
            "it will not see at inference",
            {"dropped": bad[0]},
        )
    return Check("prompt is a prefix", PASS, "prompt + completion == full render on every probe")


def _probe_pairs() -> list[tuple[list, list]]:
    (u1, a1), (u2, a2) = EXCHANGES
    return [([u1], [a1]), ([SYSTEM, u1], [a1]), ([u1, a1, u2], [a2]), ([SYSTEM, u1, a1, u2], [a2])]


def _prefix_preserving(t: ChatTemplate) -> Check:
    (u1, a1), (u2, a2) = EXCHANGES
    for conv in ([u1, a1, u2, a2], [SYSTEM, u1, a1, u2, a2]):
        full, error = _try(lambda conv=conv: t.render(conv))
        short, error2 = _try(lambda conv=conv: t.render(conv[:-2]))
        if error or error2:
            continue
        if not full.startswith(short):
            common = _common(short, full)
            return Check(
                "prefix-preserving",
                WARN,
                "appending a turn changes the rendering of earlier turns "
                f"({short[len(common) :][:60]!r} becomes {full[len(common) :][:60]!r}); "
                "incremental tokenisation and KV-cache reuse across turns break",
            )
        return Check("prefix-preserving", PASS, "appending a turn keeps earlier turns unchanged")
    return Check("prefix-preserving", SKIP, "the probe conversations do not render")


def _eos_once(t: ChatTemplate) -> Check:
    eos = t.eos_token
    if not eos:
        return Check("EOS once at the end", SKIP, "the template has no eos_token to check")
    for prompt, completion in _probe_pairs():
        try:
            _, comp, _ = _split(t, prompt, completion)
        except RenderError:
            continue
        count = comp.count(eos)
        if count > 1:
            return Check(
                "EOS once at the end",
                FAIL,
                f"the completion holds {eos!r} {count} times: {comp!r}",
            )
        if count == 1 and not comp.rstrip().endswith(eos):
            return Check(
                "EOS once at the end",
                FAIL,
                f"{eos!r} is not at the end of the completion: {comp!r}",
            )
        if count == 0:
            return Check(
                "EOS once at the end",
                WARN,
                f"completions do not contain the EOS token {eos!r} (they end {comp[-20:]!r}); "
                "make sure generation stops on the template's end-of-turn token",
            )
        return Check("EOS once at the end", PASS, f"completions end with {eos!r} exactly once")
    return Check("EOS once at the end", SKIP, "the probe conversations do not render")


def _generation_markers(t: ChatTemplate) -> Check:
    if t.has_generation_markers:
        return Check("generation markers", PASS, "{% generation %} blocks mark assistant text")
    return Check(
        "generation markers",
        WARN,
        "no {% generation %} markers: TRL's assistant_only_loss cannot build its mask from "
        "this template (trlprep's finds it by rendering prefixes, where they agree)",
    )


def _history_vs_turns(t: ChatTemplate) -> Check:
    (u1, _), (u2, a2) = EXCHANGES
    a1 = _a("First probe answer.", reasoning_content="probe reasoning R1")
    conv = [u1, a1, u2, a2]
    try:
        full = t.render(conv)
        _, first, _ = _split(t, [u1], [a1])
    except RenderError as e:
        return Check("history = turn by turn", SKIP, f"the probe does not render: {e.message}")
    eos = t.eos_token
    if first in full or (eos and first.rstrip().removesuffix(eos) in full):
        return Check(
            "history = turn by turn", PASS, "earlier turns render as they did when they were last"
        )
    dropped = "probe reasoning R1" in first and "probe reasoning R1" not in full
    what = "its reasoning is dropped" if dropped else "its text changes"
    return Check(
        "history = turn by turn",
        WARN,
        f"an assistant turn renders differently once later turns follow ({what}); "
        "training on whole conversations differs from training turn by turn",
    )


def _bos_not_duplicated(t: ChatTemplate, tokenizer: Any) -> Check:
    bos = t.bos_token
    u, _ = EXCHANGES[0]
    text, error = _try(lambda: t.render([u], add_generation_prompt=True))
    if error or not bos or not text.startswith(bos):
        return Check("BOS not duplicated", PASS, "the rendered text does not start with BOS")
    if tokenizer is None:
        return Check(
            "BOS not duplicated",
            WARN,
            f"rendered text starts with {bos!r}: tokenise it with add_special_tokens=False "
            "(pass --tokenizer to check the tokenizer)",
        )
    ids = tokenizer(text, add_special_tokens=True)["input_ids"]
    bos_id = tokenizer.convert_tokens_to_ids(bos)
    if len(ids) > 1 and ids[0] == ids[1] == bos_id:
        return Check(
            "BOS not duplicated",
            FAIL,
            f"the text starts with {bos!r} and the tokenizer adds another with special tokens on: "
            "tokenise rendered text with add_special_tokens=False",
        )
    return Check("BOS not duplicated", PASS, "tokenising with special tokens adds no second BOS")
