"""Running discovery: servers, embeddings, the store, the checkpointed graph, review.

``run_discovery(corpus, config)`` is what ``dialin run`` and ``IntentDiscovery.fit``
call. A run is a LangGraph thread (thread id = run id) checkpointed in SQLite beside
the store, so ``resume=True`` continues a killed run where it stopped; the LLM call
cache makes sure no answered call is paid twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, Callable

from langgraph.types import Command

from dialin.config import Config
from dialin.data import Corpus
from dialin.errors import DialinError
from dialin.guard.run_status import resume_command
from dialin.llm.router import run_sync
from dialin.llm.serve import local_base_urls
from dialin.measure.stages import StageMeter
from dialin.store import Store
from dialin.workspace import corpus_fingerprint, open_workspace

EventHandler = Callable[[dict[str, Any]], None]
ReviewHandler = Callable[[dict[str, Any]], Any]


def checkpoint_path(config: Config) -> Path:
    store = config.store_path()
    return store.with_name(store.stem + ".checkpoints.db")


async def arun_discovery(corpus: Corpus, config: Config, *, run_id: str | None = None, resume: bool = False,
                         on_event: EventHandler | None = None, on_review: ReviewHandler | None = None,
                         base_urls: dict[str, str] | None = None, store: Store | None = None,
                         client_factory: Any = None, config_path: str | None = None,
                         embedder: Any = None) -> dict[str, Any]:
    """``config_path`` (the --config the run was started with) goes into its resume command."""
    store = store or Store(config.store_path())
    fingerprint = corpus_fingerprint(corpus)
    if resume:
        if not run_id:
            raise DialinError("--resume needs the run id to resume (see `dialin runs`)")
        row = store.run(run_id)
        if row["params"].get("fingerprint") != fingerprint:
            raise DialinError(f"run {run_id} was made from different data ({row['data_path']}): resume it with "
                              "the same file and columns, or start a new run without --resume")
        config = Config.model_validate(row["config"])
    else:
        run_id = store.new_run(corpus.source, json.loads(config.model_dump_json()),
                               {"fingerprint": fingerprint, "rows": len(corpus), "unique": len(corpus.unique_texts)},
                               run_id=run_id)
    assert run_id is not None
    source = Path(corpus.source)
    resume_cmd = resume_command(str(source.resolve()) if source.is_file() else corpus.source, run_id,
                                corpus.options, config_path)
    store.set_status(run_id, "running", resume=resume_cmd)
    try:
        return await _drive(corpus, config, store, run_id, resume, on_event, on_review, base_urls, client_factory,
                            embedder)
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        store.set_status(run_id, "interrupted", "stopped before it finished (Ctrl-C or cancelled)")
        exc.add_note(f"run {run_id} is interrupted; continue it with: {resume_cmd}")
        raise
    except Exception as exc:
        waiting = isinstance(exc, ReviewPending)
        store.set_status(run_id, "interrupted" if waiting else "failed",
                         str(exc) if isinstance(exc, DialinError) else f"{type(exc).__name__}: {exc}")
        exc.add_note(f"run {run_id} is {'interrupted' if waiting else 'failed'}; what it did so far is kept; "
                     f"continue it with: {resume_cmd}")
        raise


class ReviewPending(DialinError):
    """The run paused for a review and no reviewer is attached."""


async def _drive(corpus: Corpus, config: Config, store: Store, run_id: str, resume: bool,
                 on_event: EventHandler | None, on_review: ReviewHandler | None, base_urls: dict[str, str] | None,
                 client_factory: Any, embedder: Any = None) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from dialin.graphs.discovery.state import Context

    meter = StageMeter().start()
    if base_urls is None:
        base_urls = local_base_urls(config)
    meter.mark("servers")
    ws = open_workspace(corpus, config, store, run_id, base_urls, client_factory, embedder)
    meter.mark("embedding")
    if on_event:
        on_event({"stage": "embedded", "n": len(corpus.unique_texts), "run_id": run_id})
    thread = {"configurable": {"thread_id": run_id}, "recursion_limit": 1000,
              "max_concurrency": max(4, 2 * sum(ep.max_concurrency * ep.servers for ep in config.endpoints.values()))}
    ctx = Context(workspace=ws)
    before = asyncio.all_tasks()
    async with AsyncSqliteSaver.from_conn_string(str(checkpoint_path(config))) as saver:
        try:
            await _stream(saver, ctx, thread, run_id, resume, on_event, on_review, meter)
        except BaseException:
            await _settle_checkpoints(saver, before)
            raise
    store.set_status(run_id, "done")
    meter.stop()
    result = store.load_result(run_id)
    result["stats"]["stages"] = meter.report()
    return result


async def _settle_checkpoints(saver: Any, before: set[asyncio.Task[Any]]) -> None:
    """After a failed or cancelled run: let the checkpoint writes still in flight finish, then end any
    transaction one of them left open. Otherwise the connection, closed with a cursor still alive (a
    traceback holds it), keeps the database locked and a retry in the same process finds
    "database is locked"."""
    pending = asyncio.all_tasks() - before - {asyncio.current_task()}
    if pending:
        await asyncio.wait(pending, timeout=10)
    with contextlib.suppress(Exception):
        await saver.conn.rollback()


async def _stream(saver: Any, ctx: Any, thread: dict[str, Any], run_id: str, resume: bool,
                  on_event: EventHandler | None, on_review: ReviewHandler | None, meter: StageMeter) -> None:
    from dialin.graphs.discovery.graph import build_graph

    graph = build_graph().compile(checkpointer=saver, name="dialin-discovery")
    state = await graph.aget_state(thread)
    payload: Any = None if (resume and state.values) else {"run_id": run_id}
    while True:
        interrupted = None
        async for mode, chunk in graph.astream(payload, thread, context=ctx, stream_mode=["custom", "updates"]):
            if mode == "custom" and on_event:
                on_event(chunk)
            elif mode == "updates" and "__interrupt__" in chunk:
                interrupted = chunk["__interrupt__"][0].value
            elif mode == "updates":
                for node in chunk:
                    meter.mark(node)
        if interrupted is None:
            break
        if on_review is None:
            raise ReviewPending(f"run {run_id} waits for a review ({interrupted['kind']}); review is on in the "
                              "config but no reviewer is attached: run it in a terminal, or set "
                              "method.review: false")
        payload = Command(resume=on_review(interrupted))


def run_discovery(corpus: Corpus, config: Config, **kwargs: Any) -> dict[str, Any]:
    return run_sync(arun_discovery(corpus, config, **kwargs))
