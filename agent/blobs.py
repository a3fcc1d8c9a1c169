"""Sealed document files in ``<home>/blobs/``: only ever the sealed bytes, as received.

``<doc_id>.part`` grows while a download resumes (HTTP Range); when it holds the signed
size and hash it is fsynced and renamed to ``<doc_id>.sealed`` (atomic). The opened PDF
never touches the disk. Purging deletes the file durably; the spool keeps the tombstone.
"""

from __future__ import annotations

from pathlib import Path

from agent.files import FILE_MODE, fsync_dir, private_dir, remove_durably


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = private_dir(directory)

    def part(self, doc_id: str) -> Path:
        path = self.directory / f"{doc_id}.part"
        if not path.exists():
            path.touch(mode=FILE_MODE)
        return path

    def sealed(self, doc_id: str) -> Path:
        return self.directory / f"{doc_id}.sealed"

    def has(self, doc_id: str) -> bool:
        return self.sealed(doc_id).exists()

    def complete(self, doc_id: str) -> None:
        """Promote the finished (already fsynced) part file to the sealed file."""
        self.part(doc_id).replace(self.sealed(doc_id))
        fsync_dir(self.directory)

    def discard_part(self, doc_id: str) -> None:
        remove_durably(self.directory / f"{doc_id}.part")

    def read(self, doc_id: str) -> bytes:
        return self.sealed(doc_id).read_bytes()

    def purge(self, doc_id: str) -> None:
        remove_durably(self.sealed(doc_id))
        remove_durably(self.directory / f"{doc_id}.part")

    def names(self) -> set[str]:
        """The document ids with any file here (for the recovery sweep)."""
        return {
            path.name.split(".", 1)[0]
            for path in self.directory.iterdir()
            if not path.name.startswith(".")
        }
