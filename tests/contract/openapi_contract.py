"""Reading the service's own OpenAPI document: its operations, and whether a response or an
example matches what the document says.

Validation uses openapi-schema-validator (OpenAPI 3.0 dialect: ``nullable``, read/write-only),
not the service's marshmallow schemas, so a schema that dumps something its document does not
describe is caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Operation:
    method: str  # lower case, as in the document
    path: str  # OpenAPI template, e.g. /features/{feature_name}/history
    spec: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def operation_id(self) -> str:
        return str(self.spec["operationId"])

    @property
    def statuses(self) -> set[int]:
        return {int(status) for status in self.spec["responses"]}

    @property
    def parameters(self) -> list[Mapping[str, Any]]:
        return [*self.path_item.get("parameters", []), *self.spec.get("parameters", [])]

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def body_example(self) -> dict[str, Any] | None:
        body = self.spec.get("requestBody")
        if body is None:
            return None
        return dict(body["content"]["application/json"]["example"])


class Contract:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def operations(self) -> Iterator[Operation]:
        for path, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    yield Operation(method, path, item[method], item)

    def resolve(self, obj: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow a local ``$ref`` (e.g. a response defined once under components)."""
        while "$ref" in obj:
            node: Any = self.document
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def response_errors(
        self, operation: Operation, status: int, content_type: str | None, body: Any
    ) -> list[str]:
        """Why a response breaks the document (empty when it conforms)."""
        responses = operation.spec["responses"]
        if str(status) not in responses:
            return [
                f"{operation.label} returned {status}, which it does not document "
                f"(documented: {sorted(operation.statuses)})"
            ]
        content = self.resolve(responses[str(status)]).get("content", {})
        if not content and not body:
            return []  # documented without a body (304 Not Modified), and sent without one
        media_type = (content_type or "").split(";")[0].strip()
        if media_type not in content:
            return [
                f"{operation.label} {status} has Content-Type {content_type!r}; "
                f"documented: {sorted(content)}"
            ]
        return self.schema_errors(content[media_type]["schema"], body, reading=True)

    def schema_errors(
        self, schema: Mapping[str, Any], instance: Any, *, reading: bool
    ) -> list[str]:
        rooted = {"components": self.document["components"], "allOf": [schema]}
        validator = (OAS30ReadValidator if reading else OAS30WriteValidator)(rooted)
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(instance)
        ]
