"""The PAN text-reuse corpus format: suspicious and source documents, and reuse annotations.

Layout: `suspicious-documents/*.txt`, `source-documents/*.txt` and, for scoring,
`plagiarism-annotation/*.xml` with one `<feature name="plagiarism" …/>` per reused passage.
Documents are articles whose ids are their file stems.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

SUSPICIOUS = "suspicious-documents"
SOURCES = "source-documents"
ANNOTATIONS = "plagiarism-annotation"


@dataclass(frozen=True)
class ReusedPassage:
    """One annotated reuse: a span of a suspicious document taken from a span of a source."""

    suspicious: str
    source: str
    suspicious_start: int
    suspicious_end: int
    source_start: int
    source_end: int
    obfuscation: str


def is_pan_corpus(folder: Path) -> bool:
    """True when `folder` has the PAN layout (suspicious and source document folders)."""
    return (folder / SUSPICIOUS).is_dir() and (folder / SOURCES).is_dir()


def pan_document_folders(folder: Path) -> list[Path]:
    """The folders that hold the documents of a PAN corpus (not its annotations)."""
    if not is_pan_corpus(folder):
        raise ValueError(f"{str(folder)!r} is not a PAN corpus: expected {SUSPICIOUS}/ and {SOURCES}/ inside it")
    return [folder / SUSPICIOUS, folder / SOURCES]


def read_pan_annotations(folder: Path) -> list[ReusedPassage]:
    """Every annotated reused passage of the corpus at `folder`."""
    annotation_folder = folder / ANNOTATIONS
    if not annotation_folder.is_dir():
        raise FileNotFoundError(f"no {ANNOTATIONS}/ folder in {str(folder)!r}; the PAN truth lives there")
    passages = []
    for path in sorted(annotation_folder.glob("*.xml")):
        root = ElementTree.parse(path).getroot()
        suspicious = Path(root.get("reference", path.with_suffix(".txt").name)).stem
        for feature in root.iter("feature"):
            if feature.get("name") != "plagiarism":
                continue
            this_offset, this_length = int(feature.get("this_offset", 0)), int(feature.get("this_length", 0))
            source_offset, source_length = int(feature.get("source_offset", 0)), int(feature.get("source_length", 0))
            passages.append(
                ReusedPassage(
                    suspicious=suspicious,
                    source=Path(feature.get("source_reference", "")).stem,
                    suspicious_start=this_offset,
                    suspicious_end=this_offset + this_length,
                    source_start=source_offset,
                    source_end=source_offset + source_length,
                    obfuscation=feature.get("obfuscation", "unknown"),
                )
            )
    return passages
