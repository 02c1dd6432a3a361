"""Prefill each distinct prompt once, without padding, and decode rows together (hf engine).

Why (measured on this 2-core CPU, ``docs/benchmarks/selection_throughput.json``): a
left-padded batch of ~1,400-token prompts prefilled *slower* than the same prompts one at a
time (0.78× for SetR selection-only), because a padded batch leaves the fast causal
attention kernel for the masked one and wastes the pad positions; decoding, on the other
hand, is ~8× cheaper per token in a batch of 8. So this module splits the two:

1. :func:`plan_prefill` orders the distinct prompts so that prompts sharing a prefix are
   adjacent, and gives each the length of the prefix it shares with one already prefilled
   (its *parent*): the ``n`` samples of one prompt (K-sample synthesis) share all of it, and
   the OptiSet prompts of one question (the question and each sub-query over the same pool,
   pool first) share the pool.
2. :func:`prefill` runs each prompt's forward once over ``prompt[:-1]`` — only the part not
   already in its parent's key/value cache — with batch 1 and no padding.
3. :func:`stack_caches` left-pads the per-row caches into one batch cache; ``generate`` then
   feeds only each row's last prompt token and decodes all rows together. Positions are
   exact: transformers derives position ids from the attention mask, so a left-padded row's
   first real token sits at position 0, as it did in its own prefill.

Pure bookkeeping (:func:`plan_prefill`, :func:`common_prefix`) imports nothing heavy and is
tested with hand-made token lists.

Example:
    >>> plan_prefill([[1, 2, 3, 4], [9, 9], [1, 2, 3, 5], [1, 2, 3, 4]], min_shared=2)
    [(0, None, 0), (2, 0, 3), (1, None, 0)]
"""

from __future__ import annotations

from typing import Any, Sequence


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists.

    >>> common_prefix([1, 2, 3], [1, 2, 4]), common_prefix([1], [2]), common_prefix([1, 2], [1, 2])
    (2, 0, 2)
    """
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def plan_prefill(prompts: Sequence[Sequence[int]], min_shared: int = 32) -> list[tuple[int, int | None, int]]:
    """The order in which to prefill the *distinct* prompts, and what each reuses.

    Args:
        prompts: token ids per prompt (duplicates allowed: they are prefilled once).
        min_shared: reuse a parent's cache only when it shares at least this many tokens
            (a short shared chat header is not worth a cache copy).

    Returns:
        ``(index, parent, shared)`` per distinct prompt, in prefill order: ``index`` is the
        first position of that prompt in ``prompts``; ``parent`` the index of an already
        prefilled prompt whose first ``shared`` cached tokens it reuses (``None``, 0 for a
        fresh prefill). Prompts are visited in lexicographic token order, so each one's best
        parent among earlier ones is its predecessor; the cache holds ``prompt[:-1]``, so at
        most ``len(prompt) - 1`` tokens are shared.
    """
    first: dict[tuple[int, ...], int] = {}
    for i, p in enumerate(prompts):
        first.setdefault(tuple(p), i)
    order = sorted(first.items(), key=lambda kv: kv[0])
    plan: list[tuple[int, int | None, int]] = []
    previous: tuple[tuple[int, ...], int] | None = None
    for tokens, index in order:
        parent, shared = None, 0
        if previous is not None:
            lcp = min(common_prefix(tokens, previous[0]), len(tokens) - 1, len(previous[0]) - 1)
            if lcp >= min_shared:
                parent, shared = previous[1], lcp
        plan.append((index, parent, shared))
        previous = (tokens, index)
    return plan


def prefill(model: Any, prompts: Sequence[Sequence[int]], min_shared: int = 32, device: str = "cpu",
            known: dict[int, list] | None = None) -> dict[int, list]:
    """Per distinct prompt, the key/value cache of ``prompt[:-1]``: ``{index: [(k, v) per layer]}``.

    ``index`` is as in :func:`plan_prefill`; tensors are ``(1, kv_heads, len - 1, head_dim)``.
    Each forward covers only the tokens beyond the prefix shared with the prompt's parent.
    ``known``: caches already computed (by index), reused as parents and not recomputed.
    """
    import torch
    from transformers import DynamicCache

    caches: dict[int, list] = dict(known or {})
    for index, parent, shared in plan_prefill(prompts, min_shared):
        if index in caches:
            continue
        tokens = list(prompts[index])[:-1]
        new = tokens[shared:]
        if parent is not None:
            reused = [(k[:, :, :shared], v[:, :, :shared]) for k, v in caches[parent]]
            if not new:  # the whole cached part is shared (prompts differ only in their last token)
                caches[index] = reused
                continue
            past = DynamicCache(reused, config=model.config)
        else:
            past = DynamicCache(config=model.config)
        ids = torch.tensor([new], dtype=torch.long, device=device)
        positions = torch.arange(shared, shared + len(new), device=device).unsqueeze(0)
        with torch.inference_mode():
            out = model(input_ids=ids, position_ids=positions, past_key_values=past, use_cache=True)
        cache = out.past_key_values
        caches[index] = [(layer.keys, layer.values) for layer in cache.layers]
    return caches


def stack_caches(model: Any, rows: Sequence[list], lengths: Sequence[int]) -> Any:
    """One left-padded ``DynamicCache`` of ``len(rows)`` rows (``lengths``: cached tokens per row).

    Pad positions hold zeros; the attention mask given to ``generate`` hides them.
    """
    from transformers import DynamicCache

    width = max(lengths)
    layers = []
    for layer in range(len(rows[0])):
        k0, v0 = rows[0][layer]
        keys = k0.new_zeros((len(rows), k0.shape[1], width, k0.shape[3]))
        values = v0.new_zeros((len(rows), v0.shape[1], width, v0.shape[3]))
        for r, (row, n) in enumerate(zip(rows, lengths)):
            k, v = row[layer]
            keys[r, :, width - n :] = k[0, :, :n]
            values[r, :, width - n :] = v[0, :, :n]
        layers.append((keys, values))
    return DynamicCache(layers, config=model.config)
