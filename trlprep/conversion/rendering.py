"""The render of a conversion: the plan's chat template and tokenizer run over the route's
output (the last stages of `apply.apply_steps`; `byturn` runs them on split turns), rows
named by their input lines and the reports collected for the caller to merge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from trlprep.conversion.masks import keep_turns, masked
from trlprep.conversion.rowids import InputRows, row_ids, run_stage
from trlprep.errors import ROW_ID

if TYPE_CHECKING:
    from trlprep.conversion.convert import Plan

__all__ = ["render_steps"]


def render_steps(
    table: pa.Table,
    plan: Plan,
    opts: Any,
    offset: int,
    lines: Any,
    source: InputRows | None,
    reports: list[tuple[str, Any]],
) -> pa.Table:
    """The chat template and tokenizer of `apply_steps` over the route's output; their
    reports go to `reports` (`apply.merge_reports` merges them once the batch is kept)."""
    r = plan.render
    if plan.route.steps:
        lines = None  # rows no longer map one to one onto input lines
    found: list[tuple[str, Any]] = []
    if r.template is not None:
        from trlprep.templates import render_table

        def render(t: pa.Table) -> pa.Table:
            named = source is not None and ROW_ID in t.column_names
            out, report = render_table(
                keep_turns(t, plan), plan.dst, r.template, tools=r.tools, lines=lines,
                template_kwargs=r.template_kwargs, num_proc=r.num_proc,
                row_offset=0 if named else offset,
            )  # fmt: skip
            if named:
                ex = report.prefix_mismatch_examples
                report.example_label, report.prefix_mismatch_examples = source.numbers(
                    row_ids(t, ex)
                )
            found.append(("report", report))
            return out

        table = run_stage(table, render, offset)
    if r.tokenizer is not None:
        from trlprep.templates import tokenize_table
        from trlprep.templates.tokenrecord import make_record, step_separator_of, with_record

        # standard text gets the EOS TRL's trainers append (`train` too); rendered chat text
        # ends with its template's end of turn, and PRM's steps with their separator
        add_eos = r.template is None and plan.dst.name != "stepwise-supervision"
        step_sep = step_separator_of(plan.dst.name, opts)
        if r.token_record is None:  # the options the ids are cut with, made once per render
            r.token_record = make_record(
                plan.dst.name, r.tokenizer, r.template, add_eos=add_eos, max_length=r.max_length,
                truncation=r.truncation, step_separator=step_sep, tokenizer_name=r.tokenizer_name,
                template_kwargs=r.template_kwargs, tools=r.tools,
            )  # fmt: skip
        record = r.token_record

        def tokenize(t: pa.Table) -> pa.Table:
            named = source is not None and ROW_ID in t.column_names
            out, tokens = tokenize_table(
                t, plan.dst, r.tokenizer, max_length=r.max_length, truncation=r.truncation,
                row_offset=0 if named else offset, add_eos=add_eos,
                templated=r.template is not None, step_separator=step_sep,
            )  # fmt: skip
            out = masked(with_record(out, record), plan)  # the options ids were cut with; masks
            if named:
                ex = tokens.boundary_examples
                tokens.example_label, tokens.boundary_examples = source.numbers(row_ids(t, ex))
            found.append(("token_report", tokens))
            return out

        table = run_stage(table, tokenize, offset)
    reports.extend(found)
    return table
