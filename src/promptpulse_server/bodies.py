"""Request bodies decoded strictly, and bodies left undecoded for a worker thread.

``decode`` is the one strict decode of a JSON body into its msgspec shape: the types of the
schema (no string ``"10"`` for a count, no 0 for false), and a 400 naming the field
(``ValidationException``, ``key`` the field's path) when the body breaks a bound.

``Undecoded[Shape]``, as a handler's ``dto``, hands the handler its raw body (``bytes``) while
the OpenAPI document still shows ``Shape``: Litestar would otherwise decode the body on the
event loop before the handler runs. A large upload is tens of milliseconds of CPU to decode;
on the loop that stalls every other request of the process, so uploads decode theirs in their
worker thread, behind the upload gate (``db.UploadGate``), with ``decode``.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any, TypeVar

import msgspec
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.exceptions import ClientException, ValidationException
from litestar.typing import FieldDefinition

T = TypeVar("T")


def decode(body: bytes, shape: type[T], where: str) -> T:
    """``body`` as ``shape``, strictly; a 400 naming the field otherwise. ``where`` (method and
    path) goes into the answer's detail."""
    try:
        return msgspec.json.decode(body, type=shape, strict=True)
    except msgspec.ValidationError as exc:
        raise invalid(exc, where) from exc
    except msgspec.DecodeError as exc:
        raise ClientException(f"body: not JSON ({exc})") from exc


# a check of the whole batch names the row and field at the start of its message
ROW_FIELD = re.compile(r"(\w+\[\d+\]\.\w+): (.*)", re.DOTALL)


def invalid(exc: msgspec.ValidationError, where: str) -> ValidationException:
    """A msgspec validation error as Litestar's 400: the message and the field's path (for a
    check of the whole batch, the row's field its message starts with: ``daily[3].date``)."""
    message, _, path = str(exc).partition(" - at `$")
    key = path.strip("`.") or "body"
    if key == "body" and (found := ROW_FIELD.fullmatch(message)):
        key, message = found.groups()
    return ValidationException(
        detail=f"Validation failed for {where}",
        extra=[{"message": message, "key": key, "source": "body"}],
    )


class Undecoded(AbstractDTO[T]):
    """The request body as bytes, documented as ``T`` (see the module's docstring)."""

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """Nothing to build: there is no conversion."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Any:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    def decode_bytes(self, value: bytes) -> bytes:
        return value

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        raise NotImplementedError("Undecoded only takes a body of bytes")

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False
