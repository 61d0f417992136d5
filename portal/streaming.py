"""Streaming a download: producing its pieces in a thread while the event loop sends them."""

from __future__ import annotations

import asyncio
import threading

from starlette.responses import StreamingResponse

from archive.media import MediaPlan, Member, zip_chunks, zip_size
from archive.vault import Vault

_END = object()


async def read_ahead(pieces, depth: int = 8):
    """Produce ``pieces`` (a blocking iterator) in a thread of its own, up to ``depth`` pieces ahead.

    Reading, decrypting and checksumming the next pieces (which release the GIL) then overlap
    sending the current one. The thread hands each piece over without waiting for the event
    loop (``call_soon_threadsafe``); it waits only when ``depth`` pieces are not yet sent. If the
    client goes away, the producer is told to stop and the thread ends.
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue = asyncio.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not room.acquire(timeout=1):
            if stop.is_set():
                return False
        if stop.is_set():
            return False
        try:
            loop.call_soon_threadsafe(ready.put_nowait, item)
        except RuntimeError:   # the event loop is closed: the server is going away
            return False
        return True

    def produce():
        try:
            for piece in pieces:
                if not put(piece):
                    return
            put(_END)
        except BaseException as exc:  # handed to the response, which ends the download
            put(exc)
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()

    thread = threading.Thread(target=produce, name="portal-download", daemon=True)
    thread.start()
    try:
        while True:
            item = await ready.get()
            room.release()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        room.release()   # a producer waiting for room wakes up, sees stop and ends


def zip_download(media: MediaPlan, vault: Vault, readme: bytes, filename: str) -> StreamingResponse:
    """The originals ``media`` plans as one ZIP streamed from the vault: ``readme`` as README.TXT,
    the DICOMDIR, then every file (its length known before the first byte is sent)."""
    members = [Member("README.TXT", len(readme), lambda: [readme]),
               Member("DICOMDIR", len(media.dicomdir), lambda: [media.dicomdir])]
    members += [Member(f.path, f.size, (lambda h=f.content_hash: vault.stream(h)))
                for f in media.files + media.unindexed]
    return StreamingResponse(read_ahead(zip_chunks(members)), media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="{filename}"', "content-length": str(zip_size(members))})
