"""``setsel train-cross-encoder``: train the cross-encoder baseline selector (issue 18).

Reads a ``configs/train_cross_encoder.yaml`` file
(:class:`setsel.training.cross_encoder.CrossEncoderTrainConfig`) with ``--set a.b=value``
overrides; trains MiniLM with a new head on (question, passage, gold?) pairs of the
training questions, tunes a score threshold for set F1 on held-out training questions and
writes ``<out>/`` (the model + ``setsel_selector.json``). Use the result with
``get_selector("cross_encoder", model="runs/cross_encoder")`` or
``setsel select --method cross_encoder --model runs/cross_encoder``. A rerun with the same
``out`` resumes from the last finished epoch.

Example:
    setsel train-cross-encoder --config configs/train_cross_encoder.yaml
    setsel train-cross-encoder --config configs/train_cross_encoder.yaml --set epochs=2 --set out=runs/ce2
"""

from __future__ import annotations

import argparse

from setsel.commands import add_config_arguments, load_or_print, log_note, print_training_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "--set epochs=2 --set num_threads=2", "configs/train_cross_encoder.yaml")


def run(args: argparse.Namespace) -> int:
    from setsel.logs import current_log_file
    from setsel.training.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder

    cfg = load_or_print(CrossEncoderTrainConfig, args)
    if cfg is None:
        return 0
    print_training_summary(train_cross_encoder(cfg))
    print(f"cross-encoder selector: {cfg.out} (get_selector('cross_encoder', model={cfg.out!r}))", flush=True)
    print(log_note(current_log_file()))
    return 0
