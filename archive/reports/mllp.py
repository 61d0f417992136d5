"""The HL7 MLLP listener: result messages from the radiology information system, over TCP.

Each MLLP block (``<VT> message <FS><CR>``) is one message; it goes through the inbox (kept,
read, filed) and is answered on the same connection with its ACK or NAK before the next block
is read, so a sender that waits for each acknowledgement never loses one. Blocks are read with
python-hl7's MLLP stream reader; the server runs an asyncio loop in a thread of its own, and
the store is written from one worker thread (one connection, one writer).

A block larger than the ``hl7_max_message_kb`` setting (or an endless one that never ends with
<FS><CR>) is cut off there: the sender gets a NAK (AR), the connection is closed, and the log says
who and how big, never what the message held. A block that does not begin with <VT> but ends
properly is refused with a NAK and the connection carries on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import duckdb
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from archive.reports import hl7v2
from archive.reports.inbox import receive

if TYPE_CHECKING:
    from archive.home import Archive

log = logging.getLogger("limestone.hl7")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024   # when the archive's settings do not say (hl7_max_message_kb)


class MllpServer:
    """``MllpServer(archive, port).start()`` listens until ``stop()``; ``port`` is the bound port."""

    def __init__(self, archive: Archive, port: int, bind: str = ""):
        self.archive = archive
        self.port = port
        self.bind = bind or "0.0.0.0"  # one socket (IPv4, all interfaces) so port 0 means one port
        self.received = 0
        self.accepted = 0
        self.rejected = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hl7-store")
        self._con: duckdb.DuckDBPyConnection | None = None
        kb = getattr(getattr(archive, "settings", None), "hl7_max_message_kb", None)
        self.max_message_bytes = int(kb) * 1024 if kb else MAX_MESSAGE_BYTES

    def start(self, timeout: float = 30.0) -> "MllpServer":
        self._con = self._worker.submit(self.archive.store).result()
        self._thread = threading.Thread(target=self._run, name="hl7-mllp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            self.stop()
            raise OSError(f"cannot listen for HL7 on port {self.port}: {self._error or 'timed out'}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            server: asyncio.Server = loop.run_until_complete(start_hl7_server(
                self._serve, host=self.bind, port=self.port, limit=self.max_message_bytes))
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
        except BaseException as exc:  # port in use, bad address: reported by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:  # open connections: their message in hand has been answered
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _serve(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = f"mllp {peer[0]}" if peer else "mllp"
        loop = asyncio.get_running_loop()
        con = self._con
        if con is None:   # stopped: nothing can be filed any more
            writer.close()
            return
        try:
            while not reader.at_eof():
                try:
                    block = await reader.readblock()
                except InvalidBlockError:  # ended by <FS><CR>, within the limit: the stream is in step
                    log.warning("HL7 from %s: a block not beginning with <VT> refused", source)
                    reason = "not an MLLP block: it must begin with <VT> (0x0B)"
                    writer.writeblock(hl7v2.acknowledgement("", "AR", reason, "100").encode())
                    await writer.drain()
                    continue
                except asyncio.IncompleteReadError:
                    break
                except ValueError:  # past the size limit: the rest of the stream cannot be trusted
                    log.warning("HL7 from %s: a block over %d KB (or never ended); connection closed",
                                source, self.max_message_bytes // 1024)
                    writer.writeblock(hl7v2.acknowledgement("", "AR", "message too large", "207").encode())
                    await writer.drain()
                    break
                self.received += 1
                try:
                    result = await loop.run_in_executor(self._worker, receive, self.archive.home, con,
                                                        block, source, self.archive.vault)
                    code, ack = result.code, result.ack
                except Exception:  # never leave a sender without an answer
                    log.exception("an HL7 message could not be handled")
                    code = "AE"
                    ack = hl7v2.acknowledgement(hl7v2.normalise(block), "AE",
                                                "the message could not be handled now; send it again")
                if code == "AA":
                    self.accepted += 1
                else:
                    self.rejected += 1
                writer.writeblock(ack.encode("utf-8"))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        """Stop accepting, let the message in hand finish, close the store connection."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        if self._con is not None:
            self._worker.submit(self._con.close).result()
            self._con = None
        self._worker.shutdown(wait=True)
