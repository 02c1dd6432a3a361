"""``setsel train``: train the selector (LoRA; sft | dpo | setlist) with Ray Train.

Same as ``python -m jobs.train``. Reads a ``configs/train_*.yaml`` file
(:class:`setsel.training.config.TrainConfig`) with ``--set a.b=value`` overrides, runs
Ray Train (DDP or DeepSpeed ZeRO), writes ``<output_dir>/adapter`` (HF peft format),
``metrics.jsonl`` and ``train_summary.json``. Running it again with the same output
folder resumes from the latest checkpoint.

Example:
    setsel train --config configs/train_tiny_cpu.yaml --gold-from ../shared/data/hotpotqa_train100_hipporag/train.jsonl
    setsel train --config configs/train_setlist.yaml --set data.train=runs/synth/train.parquet --set ray.num_actors=4
    setsel train --config configs/train_gold_judgements.yaml --local   # in this process, no Ray
"""

from __future__ import annotations

import argparse

from setsel.commands import log_note, start_log


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="training config (configs/train_*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set optim.lr=0.0001 --set ray.num_actors=2")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address to join (shortcut for --set ray.address=…; default: start a local Ray)")
    parser.add_argument("--local", action="store_true",
                        help="train in this process without Ray (shortcut for --set ray.enabled=false; one worker, "
                             "no DeepSpeed): the fast path on one CPU machine; checkpoints under "
                             "<output_dir>/checkpoints, rerun to resume")
    parser.add_argument("--gold-from", default=None, metavar="HOTPOT_JSONL",
                        help="first write gold-proxy examples (setsel.training.gold) from a HotpotQA-format "
                             "JSONL file to data.train (demos; real training uses synthesised sets)")
    parser.add_argument("--gold-n", type=int, default=32, help="examples for --gold-from (default: %(default)s)")
    parser.add_argument("--export", default=None, metavar="DIR",
                        help="when the run has finished, also write its adapter with bf16 weights to DIR "
                             "(e.g. setsel/models/smollm2-135m-setsel, the shipped selector; its README.md is kept)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    import json

    from setsel.config import config_to_dict
    from setsel.training.config import load_train_config

    shortcuts = (["ray.enabled=false"] if args.local else []) + ([f"ray.address={args.address}"] if args.address else [])
    cfg = load_train_config(args.config, [*args.overrides, *shortcuts])
    if args.print_config:
        print(json.dumps(config_to_dict(cfg.resolved()), indent=2))
        return 0
    log_path = start_log(cfg.output_dir)
    if args.gold_from:
        from setsel.io import write_records
        from setsel.training.gold import hotpot_gold_examples

        examples = hotpot_gold_examples(args.gold_from, n=args.gold_n, seed=cfg.seed)
        write_records(cfg.data.train, examples)
        print(f"wrote {len(examples)} gold-proxy examples to {cfg.data.train}")
    from setsel.distributed.stages import run_train

    summary = run_train(cfg)
    print(json.dumps(summary, indent=2))
    if args.export:
        if not summary.get("finished"):
            print(f"not exported: the run stopped at step {summary.get('step')} of {summary.get('total_steps')}")
            return 1
        from setsel.training.model import export_adapter

        print(f"exported the adapter (bf16) to {export_adapter(summary['adapter'], args.export)}")
    print(log_note(log_path))
    return 0
