"""Messages between the importing process and its row checker: pickled, length-prefixed, buffered.

A pipe holds 64 KiB and a checked batch is a megabyte, so with plain `pickle.dump`/`pickle.load`
the two processes ran in step: the checker could not hand a batch over until the importer had read
it all, and sat blocked while the importer staged (6 s of a 16 s reading phase, measured). Here a
thread on each side moves whole frames through the pipe (its reads and writes release the GIL) and
a few frames wait in a queue, so each process works while the other is busy.

Batches of rows (tuples and lists of str, int, float, bool and None) go as `marshal` rather than
pickle: about twice as fast to write, with no memo of every string, and a little faster to read.
"""

from __future__ import annotations

import marshal
import os
import pickle
import queue
import struct
import threading
from typing import IO, Any

QUEUED_FRAMES = 6  # frames waiting on each side at most: memory stays a few batches
_LENGTH = struct.Struct("<Q")
_PICKLED, _MARSHALLED = b"p", b"m"  # a frame's first byte: how the rest is encoded
_MARSHAL_VERSION = 2  # no back-references: the fastest to write
_END = b""  # what the reader queues at the end of the stream


class FrameWriter:
    """Send objects to a pipe from a thread of their own; a broken pipe ends the process."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUED_FRAMES)
        self._thread = threading.Thread(target=self._write, name="frame-writer", daemon=True)
        self._thread.start()

    def send(self, item: Any) -> None:
        """Send any picklable object."""
        self._queue.put(_PICKLED + pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))

    def send_plain(self, item: Any) -> None:
        """Send an object made of tuples, lists, str, int, float, bool and None only (a batch)."""
        self._queue.put(_MARSHALLED + marshal.dumps(item, _MARSHAL_VERSION))

    def close(self) -> None:
        """Send what is queued, then return."""
        self._queue.put(None)
        self._thread.join()

    def _write(self) -> None:
        out = self._out
        try:
            while (frame := self._queue.get()) is not None:
                out.write(_LENGTH.pack(len(frame)))
                out.write(frame)
                out.flush()
        except (BrokenPipeError, OSError):  # the importer is gone: nobody reads any more
            os._exit(1)


class FrameReader:
    """Receive the objects a FrameWriter sent, read ahead by a thread of their own."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._queue: queue.Queue[bytes] = queue.Queue(QUEUED_FRAMES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="frame-reader", daemon=True)
        self._thread.start()

    def receive(self) -> Any:
        """The next object; EOFError when the stream ended (the writer stopped)."""
        frame = self._queue.get()
        if frame is _END:
            raise EOFError("the stream ended")
        if frame[:1] == _MARSHALLED:
            return marshal.loads(memoryview(frame)[1:])
        return pickle.loads(memoryview(frame)[1:])

    def close(self) -> None:
        """Stop reading ahead (call once the writer's process is stopped, so the stream ends)."""
        self._stop.set()
        self._thread.join()

    def _read(self) -> None:
        read = self._stream.read
        while not self._stop.is_set():
            header = read(_LENGTH.size)
            if len(header) < _LENGTH.size:
                break
            (size,) = _LENGTH.unpack(header)
            frame = read(size)
            if len(frame) < size:
                break
            self._put(frame)
        self._put(_END)

    def _put(self, frame: bytes) -> None:
        while not self._stop.is_set():  # never blocked for good on a reader that went away
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue
