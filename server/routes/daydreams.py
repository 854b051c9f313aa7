"""GET /api/daydreams/stream: a daydream chain as server-sent events, one event per finished image.

Each step draws z from p(z|c) for the code c of the previous image, samples the next image from r(x|z)
and encodes it. Sampling runs in a worker thread. When the client disconnects, the event generator is
cancelled or the disconnect watcher fires, either sets the cancel event, and the sampler stops after
its current pixel row.
"""

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from server.errors import ErrorKind, error_responses
from server.images import data_url, levels_to_image
from server.inference import SamplingCancelled, decode_latents, draw_from_prior, encode
from server.registry import Snapshot
from server.routes.neighbours import check_range
from server.services import Services, get_services
from server.sources import Source, resolve_source

logger = logging.getLogger(__name__)
router = APIRouter(tags=["daydreams"])

DISCONNECT_POLL_SECONDS = 0.1
END = object()  # sentinel on the event queue after the last event
# Worker tasks still running after their stream ended; asyncio keeps only weak references to tasks.
_finishing: set[asyncio.Future[None]] = set()
Emit = Callable[[str, dict[str, Any]], None]


def format_event(name: str, data: dict[str, Any], event_id: int) -> str:
    return f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def run_chain(
    services: Services, snapshot: Snapshot, source: Source, length: int, seed: int | None, progress: bool, emit: Emit, cancel: threading.Event
) -> None:
    """Run the daydream chain in a worker thread, emitting start, progress, image and end events."""
    metrics = services.metrics
    levels = snapshot.bundle.output_type.levels
    rows = snapshot.bundle.image_shape[1]
    rng = np.random.default_rng(seed)
    current = source.model_input[np.newaxis]  # (1, C, H, W)
    code = encode(snapshot, current, metrics)  # (1, D)
    emit("start", {"model_version": snapshot.version, "source": source.kind, "id": source.id, "length": length,
                   "image": data_url(levels_to_image(current[0], snapshot.bundle.config.encoder_levels)), "code": code[0].tolist()})  # fmt: skip
    for step in range(1, length + 1):
        z = draw_from_prior(snapshot, code, rng, metrics)  # (1, D)

        def on_row(row: int, step: int = step) -> None:
            if progress:
                emit("progress", {"step": step, "rows_done": row + 1, "rows": rows})

        current = decode_latents(snapshot, z, rng, metrics, cancel=cancel, on_row=on_row)  # (1, C, H, W)
        code = encode(snapshot, snapshot.bundle.encoder_input(current), metrics)
        emit("image", {"step": step, "image": data_url(levels_to_image(current[0], levels)), "code": code[0].tolist(), "z": z[0].tolist()})
    emit("end", {"steps": length})


async def stream_events(request: Request, services: Services, snapshot: Snapshot, source: Source, length: int, seed: int | None, progress: bool) -> AsyncIterator[str]:
    """Yield server-sent events from a chain running in a worker thread, stopping it when the client leaves."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    cancel = threading.Event()

    def emit(name: str, data: dict[str, Any]) -> None:
        if cancel.is_set():
            return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (name, data))
        except RuntimeError:
            cancel.set()  # the event loop is closed: the server is shutting down

    def work() -> None:
        try:
            run_chain(services, snapshot, source, length, seed, progress, emit, cancel)
        except SamplingCancelled as stopped:
            services.metrics.daydreams_cancelled.inc()
            logger.info("daydream stopped after %d rows because the client disconnected", stopped.rows_finished)
        except Exception:
            logger.exception("daydream chain failed")
            emit("error", {"code": ErrorKind.INTERNAL_ERROR.code, "message": "the daydream chain failed; the error is logged"})
        finally:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, END)
            except RuntimeError:
                pass

    worker = asyncio.ensure_future(anyio.to_thread.run_sync(work))
    watcher = asyncio.ensure_future(_watch_disconnect(request, cancel))
    try:
        event_id = 0
        while (item := await queue.get()) is not END:
            event_id += 1
            yield format_event(item[0], item[1], event_id)
    finally:
        cancel.set()
        watcher.cancel()
        # The worker finishes on its own within one row; hold it until then.
        _finishing.add(worker)
        worker.add_done_callback(_finishing.discard)


async def _watch_disconnect(request: Request, cancel: threading.Event) -> None:
    while not cancel.is_set():
        if await request.is_disconnected():
            cancel.set()
            return
        await asyncio.sleep(DISCONNECT_POLL_SECONDS)


@router.get(
    "/api/daydreams/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **error_responses(404, 422, 503)},
)
async def stream_daydream(
    request: Request,
    upload_id: int | None = Query(None, description="id returned by /api/encode"),
    image_id: int | None = Query(None, description="id of an indexed image"),
    length: int = Query(8, description="images to generate, 1 to ACN_MAX_DAYDREAM_LENGTH"),
    seed: int | None = Query(None, ge=0, description="seed that fixes the chain; random when absent"),
    progress: bool = Query(False, description="also send a progress event after every sampled pixel row"),
    services: Services = Depends(get_services),
) -> StreamingResponse:
    """Stream events: start (the first image and its code), progress (optional), image (one per step), end.

    Every event's data is JSON; images are PNG data URLs.
    """
    snapshot = services.registry.current()
    check_range("length", length, 1, services.settings.max_daydream_length)
    # Resolve the source before streaming, so that unknown ids get a 404 rather than an error event.
    source = await anyio.to_thread.run_sync(resolve_source, services, snapshot, upload_id, image_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        stream_events(request, services, snapshot, source, length, seed, progress), media_type="text/event-stream", headers=headers
    )

