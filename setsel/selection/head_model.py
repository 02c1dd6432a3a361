"""The ``llm_head`` model: a causal LM body (+ LoRA) that reads a whole pool, and a per-passage head.

:class:`PoolHeadModel` encodes a pool with :class:`~setsel.prompts.pool_layout.PoolLayout`,
runs the transformer body once (no LM head: the 49k-word vocabulary projection is never
computed) and reads, for each passage, the hidden states at its pool end and at its recap
line; :class:`PassageHead` maps the pair to one relevance logit. Training
(:mod:`setsel.training.head`) fits the LoRA weights and the head with binary cross-entropy
on gold labels; selection (:mod:`setsel.selection.llm_head`) thresholds the logits.

A trained model is a folder::

    adapter_config.json, adapter_model.safetensors   # peft LoRA of the body
    head.safetensors                                  # PassageHead weights
    setsel_head.json                                  # base model, layout, threshold, max_passages

Example:
    >>> m = PoolHeadModel.load("models/smollm2-135m-setsel")          # doctest: +SKIP
    >>> m.logits([("Who?", [("A", "text"), ("B", "text")])])[0]       # doctest: +SKIP
    [2.31, -4.02]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from setsel.prompts.pool_layout import LAYOUT_VERSION, PoolLayout, PoolSequence

HEAD_FILE = "head.safetensors"
META_FILE = "setsel_head.json"

Pool = tuple[str, Sequence[tuple[str, str]]]
"""``(question, [(title, text), ...])``."""


class PassageHead(nn.Module):
    """Two hidden states of a passage (pool end, recap end) → one relevance logit.

    Input ``(..., 2·hidden)`` (the two states concatenated), output ``(...)``.
    """

    def __init__(self, hidden: int, inner: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * hidden, inner), nn.GELU(), nn.Linear(inner, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


def _dtype(name: str) -> torch.dtype:
    return {"fp32": torch.float32, "bf16": torch.bfloat16}[name]


LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""The Llama-family linear projections LoRA adapts (SmolLM2 is a Llama)."""


def truncate_layers(lm: Any, keep_layers: int | None) -> Any:
    """Keep the first ``keep_layers`` decoder layers of a causal LM (``None`` = all); in place.

    The final norm still applies to the last kept layer's output. Measured on SmolLM2-135M
    (30 layers, bf16, 2 cores, a 792-token pool): forward+backward 2.6 s with all layers and
    LoRA everywhere, 1.1 s with 20 layers and LoRA on the top 10.
    """
    layers = lm.model.layers
    if keep_layers is None or keep_layers >= len(layers):
        return lm
    if keep_layers < 1:
        raise ValueError(f"keep_layers must be ≥ 1, got {keep_layers}")
    lm.model.layers = layers[:keep_layers]
    lm.config.num_hidden_layers = keep_layers
    if hasattr(lm.config, "layer_types") and lm.config.layer_types:
        lm.config.layer_types = lm.config.layer_types[:keep_layers]
    return lm


def load_body(base_model: str, keep_layers: int | None, dtype: str) -> tuple[Any, Any]:
    """``(tokenizer, causal LM)``: the base in ``dtype`` with only its first ``keep_layers`` layers."""
    from transformers import AutoModelForCausalLM

    from setsel.training.model import load_tokenizer, resolve_base

    base = resolve_base(base_model)
    tok = load_tokenizer(base)
    lm = AutoModelForCausalLM.from_pretrained(base, dtype=_dtype(dtype))
    lm.config.use_cache = False
    return tok, truncate_layers(lm, keep_layers)


class PoolHeadModel(nn.Module):
    """Body (a causal LM's transformer, possibly a peft model) + :class:`PassageHead`.

    Args:
        lm: a ``*ForCausalLM`` (or a peft ``PeftModel`` wrapping one).
        tokenizer: its tokenizer.
        layout: the :class:`PoolLayout` (passage word budget).
        head: the head (a fresh one when ``None``).
        meta: what ``setsel_head.json`` records (base model, threshold, max_passages, ...).
    """

    def __init__(self, lm: Any, tokenizer: Any, layout: PoolLayout, head: PassageHead | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.layout = layout
        hidden = self._body().config.hidden_size if hasattr(self._body(), "config") else lm.config.hidden_size
        self.head = head if head is not None else PassageHead(hidden)
        self.meta = dict(meta or {})

    def _body(self) -> Any:
        lm = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        return lm.model

    # -- encoding -------------------------------------------------------------------------
    def encode(self, question: str, passages: Sequence[tuple[str, str]],
               known: tuple[str, str] | None = None) -> PoolSequence:
        """The pool's token sequence (``known``: a chosen passage shown before the pool, the second-hop read)."""
        return self.layout.encode(question, passages,
                                  lambda s: self.tokenizer.encode(s, add_special_tokens=False), known=known)

    def forward_sequences(self, seqs: list[PoolSequence]) -> list[torch.Tensor]:
        """Logits ``(n_passages,)`` per sequence; one padded forward pass for the batch."""
        device = next(self.head.parameters()).device
        width = max(s.length for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(seqs), width), pad, dtype=torch.long, device=device)
        mask = torch.zeros((len(seqs), width), dtype=torch.long, device=device)
        for r, s in enumerate(seqs):
            ids[r, : s.length] = torch.tensor(s.tokens, dtype=torch.long)
            mask[r, : s.length] = 1
        hidden = self._body()(input_ids=ids, attention_mask=mask).last_hidden_state
        out = []
        for r, s in enumerate(seqs):
            feats = torch.cat([hidden[r, s.end_positions], hidden[r, s.recap_positions]], dim=-1)
            out.append(self.head(feats.to(next(self.head.parameters()).dtype)))
        return out

    @torch.inference_mode()
    def logits(self, pools: list[Pool], batch_tokens: int = 8192,
               known: Sequence[tuple[str, str] | None] | None = None) -> list[list[float]]:
        """Relevance logits per passage of each pool (batches cut by a padded-token budget);
        ``known[i]``: the passage shown as already chosen for pool ``i`` (``None`` = none)."""
        self.eval()
        knowns = list(known) if known is not None else [None] * len(pools)
        seqs = [self.encode(q, ps, kn) for (q, ps), kn in zip(pools, knowns)]
        out: list[list[float]] = [[] for _ in seqs]
        order = sorted(range(len(seqs)), key=lambda i: -seqs[i].length)
        start = 0
        while start < len(order):
            width = seqs[order[start]].length
            n = max(1, batch_tokens // max(width, 1))
            idx = order[start : start + n]
            with self.autocast():
                logits = self.forward_sequences([seqs[i] for i in idx])
            for i, row in zip(idx, logits):
                out[i] = [float(x) for x in row.float()]
            start += n
        return out

    def autocast(self):
        dtype = self.meta.get("compute_dtype", "fp32")
        device = next(self.head.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bf16")

    # -- persistence -----------------------------------------------------------------------
    def save(self, folder: str | Path, adapter_dtype: str = "bf16") -> Path:
        """Write the adapter, the head and ``setsel_head.json`` to ``folder``."""
        from safetensors.torch import save_file

        from setsel.training.model import export_adapter

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "_adapter_fp32"
        self.lm.save_pretrained(str(tmp), safe_serialization=True)
        export_adapter(tmp, folder, dtype=adapter_dtype)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        adapter_cfg = folder / "adapter_config.json"   # name the base by its setsel id, not this machine's cache path
        cfg = json.loads(adapter_cfg.read_text(encoding="utf-8"))
        cfg["base_model_name_or_path"] = str(self.meta.get("base_model", cfg.get("base_model_name_or_path")))
        adapter_cfg.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        save_file({k: v.detach().float().contiguous() for k, v in self.head.state_dict().items()},
                  str(folder / HEAD_FILE), metadata={"format": "pt"})
        meta = dict(self.meta, layout_version=LAYOUT_VERSION, max_words=self.layout.max_words,
                    recap_words=self.layout.recap_words, head_inner=self.head.net[0].out_features)
        (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path, dtype: str | None = None, device: str = "cpu") -> "PoolHeadModel":
        """A trained model folder → a model ready for :meth:`logits` (``dtype`` default: the
        hardware's, bf16 where the CPU has native bf16, else fp32)."""
        from peft import PeftModel
        from safetensors.torch import load_file

        folder = Path(folder)
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"{folder}: no {META_FILE} (not an llm_head model folder)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("layout_version") != LAYOUT_VERSION:
            raise ValueError(f"{folder}: layout version {meta.get('layout_version')} (this setsel reads {LAYOUT_VERSION})")
        if dtype is None:
            from setsel.hardware import preferred_dtype

            dtype = preferred_dtype(device)
        tok, lm = load_body(meta["base_model"], meta.get("keep_layers"), dtype)
        lm = PeftModel.from_pretrained(lm, str(folder)).merge_and_unload()
        head = PassageHead(lm.config.hidden_size, int(meta.get("head_inner", 256)))
        head.load_state_dict(load_file(str(folder / HEAD_FILE)))
        layout = PoolLayout(max_words=meta.get("max_words"), recap_words=int(meta.get("recap_words", 8)))
        model = cls(lm, tok, layout, head, dict(meta, compute_dtype=dtype))
        return model.to(device).eval()
