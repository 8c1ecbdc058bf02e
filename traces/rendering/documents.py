"""Retrieved documents, shown as cards with their metadata.

MLflow / LangChain `Document`s (``page_content``, ``metadata``) and, in a RETRIEVER span, plain
strings and ``{"content": …}`` dicts: `parse_documents` → `Documents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from traces.rendering.values import maybe_parse_json_text, text_of


@dataclass(frozen=True)
class Document:
    content: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    score: float | None = None
    source: str = ""

    @property
    def metadata_items(self) -> list[tuple[str, str]]:
        shown = {"doc_uri", "source", "url", "score", "relevance_score"}
        return [(str(k), text_of(v)) for k, v in self.metadata.items() if k not in shown]


@dataclass(frozen=True)
class Documents:
    """Retrieved documents, shown as cards with their metadata."""

    documents: tuple[Document, ...]
    kind: ClassVar[str] = "documents"


def _document(value: Any, *, loose: bool) -> Document | None:
    if isinstance(value, str) and loose:
        return Document(content=value)
    if not isinstance(value, dict):
        return None
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if "page_content" in value:
        content = value.get("page_content")
    elif ("content" in value or "text" in value) and ("metadata" in value or loose):
        content = value.get("content", value.get("text"))
    else:
        return None
    score = value.get("score", metadata.get("score", metadata.get("relevance_score")))
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        score = None
    source = metadata.get("doc_uri") or metadata.get("source") or metadata.get("url") or ""
    doc_id = value.get("id") or metadata.get("chunk_id") or metadata.get("id") or ""
    return Document(
        content=text_of(content),
        metadata=metadata,
        id=text_of(doc_id),
        score=score,
        source=text_of(source),
    )


def parse_documents(value: Any, *, retriever: bool = False) -> Documents | None:
    """A list of retrieved documents (`{"documents": [...]}` too), or None.

    In a RETRIEVER span, plain strings and `{"content": …}` dicts count as documents as well.
    """
    value = maybe_parse_json_text(value)
    if isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list):
            value = inner
    if not isinstance(value, list) or not value:
        return None
    documents = []
    for item in value:
        document = _document(item, loose=retriever)
        if document is None:
            return None
        documents.append(document)
    return Documents(documents=tuple(documents))
