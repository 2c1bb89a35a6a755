"""Templating with worker processes inside a multiprocessing child (a DataLoader worker, a
spawn pool) lets that child exit: its kept worker pool is shut down at the child's exit."""

from __future__ import annotations

import multiprocessing as mp

import pyarrow as pa

from trlprep.templates.table import MIN_ROWS_PER_WORKER


def _render_in_child(queue) -> None:
    from trlprep.templates import load_template, render_table

    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(2 * MIN_ROWS_PER_WORKER + 2)
    ]
    out, _ = render_table(
        pa.Table.from_pylist(rows), "lm", load_template("chatml"), num_proc=2, fast=False
    )
    queue.put(out.num_rows)


def test_a_child_process_that_rendered_with_workers_exits():
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_render_in_child, args=(queue,))
    child.start()
    child.join(120)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the child hung at exit (its worker pool was never shut down)"
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 2 * MIN_ROWS_PER_WORKER + 2
