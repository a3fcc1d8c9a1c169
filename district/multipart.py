"""A ``multipart/form-data`` body read into memory, never onto disk.

The admin API's push takes the documents as a multipart upload (issue 17). Starlette's own
form parser spools any file over 1 MiB to a temporary file: a resident's plaintext PDF on
the district server's disk. This reads the body with python-multipart's streaming parser
(the library FastAPI and Starlette use) into memory instead, with caps on the number of
parts, each field's and each file's size, so the whole body is bounded by the request's
own cap (``district.edge``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from kiosk.errors import OperatorError

MAX_PARTS = 24
MAX_FIELD_BYTES = 4096


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True, slots=True)
class Form:
    fields: dict[str, list[str]]
    files: list[Part]

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name, [])
        if len(values) > 1:
            raise OperatorError(f"{name}: give it once")
        return values[0] if values else default


async def read_form(
    content_type: str, chunks: AsyncIterator[bytes], *, max_file_bytes: int
) -> Form:
    """Parse a ``multipart/form-data`` body. Raises OperatorError for a body that is not
    one, or breaks a cap (parts, field size, file size)."""
    kind, params = parse_options_header(content_type.encode("latin-1"))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise OperatorError("send the documents as multipart/form-data")
    parts: list[Part] = []
    headers: dict[bytes, bytes] = {}
    name_buf, value_buf = bytearray(), bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        name_buf.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value_buf.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(name_buf).lower()] = bytes(value_buf)
        name_buf.clear()
        value_buf.clear()

    def on_headers_finished() -> None:
        if len(parts) >= MAX_PARTS:
            raise OperatorError(f"at most {MAX_PARTS} form parts")
        disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise OperatorError("every part needs Content-Disposition: form-data; name=…")
        filename = options.get(b"filename")
        parts.append(Part(
            name=options[b"name"].decode("utf-8", "replace"),
            filename=None if filename is None else filename.decode("utf-8", "replace"),
            content_type=headers.get(b"content-type", b"").decode("latin-1"),
        ))  # fmt: skip
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part.data.extend(data[start:end])
        cap = MAX_FIELD_BYTES if part.filename is None else max_file_bytes
        if len(part.data) > cap:
            raise OperatorError(f"{part.name}: over {cap} bytes")

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
    })  # fmt: skip
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except OperatorError:
        raise
    except Exception as error:  # python-multipart's MultipartParseError and kin
        raise OperatorError(f"the form does not parse: {type(error).__name__}") from None
    return _form(parts)


def _form(parts: list[Part]) -> Form:
    """The parts as text fields (UTF-8, no NUL) and files."""
    fields: dict[str, list[str]] = {}
    files: list[Part] = []
    for part in parts:
        if part.filename is None:
            if 0 in part.data:  # no field's text holds one; PostgreSQL text cannot
                raise OperatorError(f"{part.name}: holds a NUL character")
            try:
                fields.setdefault(part.name, []).append(part.data.decode("utf-8"))
            except UnicodeDecodeError:
                raise OperatorError(f"{part.name}: not UTF-8 text") from None
        else:
            files.append(part)
    return Form(fields, files)
