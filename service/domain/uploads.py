"""Uploads kept in the database, so that any instance or worker can read a file another one received.

A file is stored in chunks of CHUNK_BYTES (`upload_chunks`), written as it is read from the request
and read back one chunk at a time: a 200 MB upload never sits in memory. Writes commit every few
chunks, so that on SQLite a large upload does not hold the write lock (and the checks) for long; an
upload whose `size` is still None is one still coming in, or one a dead process left.

An upload lives while a queued or running job or an open wizard draft needs it: `release` removes it
when its job ends, and `sweep` removes what a dead process left (unreferenced uploads older than
ORPHAN_AFTER, which no request can still be writing).
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import Engine, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from service.db import passing_through, writing
from service.models import ImportDraft, ImportJob, ImportStatus, Upload, UploadChunk, utcnow

CHUNK_BYTES = 1024 * 1024
CHUNKS_PER_COMMIT = 8
ORPHAN_AFTER = timedelta(hours=1)
DRAFT_LIFETIME = timedelta(days=2)  # an unfinished wizard is forgotten after this
CHUNKS = UploadChunk.__table__  # type: ignore[attr-defined]
UPLOADS = Upload.__table__  # type: ignore[attr-defined]



def store(engine: Engine, account_id: int, filename: str, stream: IO[bytes]) -> int:
    """Copy `stream` into a new upload, chunk by chunk; return its id."""
    writer = writing(engine)
    with writer.begin() as conn:
        inserted = conn.execute(insert(UPLOADS).values(
            account_id=account_id, filename=filename[:500], created_at=utcnow()))
        upload_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    size, seq, pending = 0, 0, []
    try:
        with passing_through(writer) as conn:
            while chunk := stream.read(CHUNK_BYTES):
                pending.append({"upload_id": upload_id, "seq": seq, "data": chunk})
                size, seq = size + len(chunk), seq + 1
                if len(pending) == CHUNKS_PER_COMMIT:
                    _write(conn, pending)
                    pending = []
            _write(conn, pending)
            with conn.begin():
                conn.execute(update(UPLOADS).where(UPLOADS.c.id == upload_id).values(size=size))
    except BaseException:
        with writer.begin() as conn:
            _delete(conn, [upload_id])
        raise
    return int(upload_id)


def _write(conn: Connection, chunks: list[dict]) -> None:
    if chunks:
        with conn.begin():
            conn.execute(insert(CHUNKS), chunks)


def size_of(engine: Engine, upload_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(UPLOADS.c.size).where(UPLOADS.c.id == upload_id)).scalar_one() or 0)


class _ChunkReader(io.RawIOBase):
    """The upload's bytes as a stream: each chunk fetched when the reader reaches it, in a short
    transaction of its own (a long read would hold back SQLite's checkpoints)."""

    def __init__(self, engine: Engine, upload_id: int) -> None:
        self._engine, self._upload_id = engine, upload_id
        self._seq, self._chunk, self._offset = 0, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._offset >= len(self._chunk):
            with self._engine.connect() as conn:
                data = conn.execute(select(CHUNKS.c.data).where(
                    CHUNKS.c.upload_id == self._upload_id, CHUNKS.c.seq == self._seq)).scalar()
            if data is None:
                return 0
            self._chunk, self._offset, self._seq = bytes(data), 0, self._seq + 1
        n = min(len(buffer), len(self._chunk) - self._offset)
        buffer[:n] = self._chunk[self._offset:self._offset + n]
        self._offset += n
        return n


@dataclass(frozen=True)
class StoredFile:
    """An upload as the importer's reader takes it (importer.reading.Openable)."""

    engine: Engine
    upload_id: int

    def open_binary(self) -> BinaryIO:
        return io.BufferedReader(_ChunkReader(self.engine, self.upload_id), CHUNK_BYTES)


def copy_to(engine: Engine, upload_id: int, path: Path) -> Path:
    """Write the upload to a local file (a worker's scratch copy: the importer reads it several
    times and in a helper process); constant memory."""
    with StoredFile(engine, upload_id).open_binary() as source, path.open("wb") as target:
        shutil.copyfileobj(source, target, CHUNK_BYTES)
    return path


def _delete(conn: Connection, upload_ids: list[int]) -> None:
    # The chunks first: SQLite applies ON DELETE CASCADE only with its foreign keys switched on.
    conn.execute(delete(CHUNKS).where(CHUNKS.c.upload_id.in_(upload_ids)))
    conn.execute(delete(UPLOADS).where(UPLOADS.c.id.in_(upload_ids)))


def _needed() -> list[ColumnElement[bool]]:
    """Conditions under which an upload is still needed: by a job not ended, or by an open draft."""
    jobs, drafts = ImportJob.__table__, ImportDraft.__table__  # type: ignore[attr-defined]
    return [
        exists().where(jobs.c.upload_id == UPLOADS.c.id,
                       jobs.c.status.in_((ImportStatus.QUEUED, ImportStatus.RUNNING))),
        exists().where(drafts.c.upload_id == UPLOADS.c.id, drafts.c.import_id.is_(None),
                       drafts.c.created_at >= utcnow() - DRAFT_LIFETIME),
    ]


def release(engine: Engine, upload_id: int | None) -> bool:
    """Remove the upload when nothing needs it any more (its job ended, its draft was imported)."""
    if upload_id is None:
        return False
    with writing(engine).begin() as conn:
        return release_in(conn, upload_id)


def release_in(conn: Connection, upload_id: int | None) -> bool:
    """`release` inside a transaction (a job's last one: its file goes with its end, or stays with it)."""
    if upload_id is None:
        return False
    unneeded = conn.execute(select(UPLOADS.c.id).where(
        UPLOADS.c.id == upload_id, UPLOADS.c.size.is_not(None), ~or_(*_needed()))).scalar()
    if unneeded is None:
        return False
    _delete(conn, [upload_id])
    return True


def sweep(engine: Engine) -> int:
    """Remove what dead processes left: expired drafts, and uploads nothing needs (of finished jobs,
    or half-written ones old enough that no request is still writing them). Returns uploads removed."""
    drafts = ImportDraft.__table__  # type: ignore[attr-defined]
    expired = and_(drafts.c.import_id.is_(None), drafts.c.created_at < utcnow() - DRAFT_LIFETIME)
    with writing(engine).begin() as conn:
        of_expired = list(conn.execute(select(drafts.c.upload_id).where(
            expired, drafts.c.upload_id.is_not(None))).scalars())
        conn.execute(delete(drafts).where(expired))
        # An upload no job or draft names yet may be one a request is still writing or handing over.
        ids = list(conn.execute(select(UPLOADS.c.id).where(
            ~or_(*_needed()), or_(_referenced(), UPLOADS.c.id.in_(of_expired),
                                  UPLOADS.c.created_at < utcnow() - ORPHAN_AFTER),
        )).scalars())
        if ids:
            _delete(conn, ids)
    return len(ids)


def _referenced() -> ColumnElement[bool]:
    jobs, drafts = ImportJob.__table__, ImportDraft.__table__  # type: ignore[attr-defined]
    return or_(exists().where(jobs.c.upload_id == UPLOADS.c.id),
               exists().where(drafts.c.upload_id == UPLOADS.c.id))


def count(engine: Engine) -> tuple[int, int]:
    """Uploads and chunks stored (for tests and the operator)."""
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(UPLOADS)).scalar_one(),
                conn.execute(select(func.count()).select_from(CHUNKS)).scalar_one())

