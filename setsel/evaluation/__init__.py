"""Evaluation (DESIGN §10): pure metrics, the runner, the report writer.

Importing this package is light; :mod:`setsel.evaluation.metrics` is standard library
only and the runner loads tqdm, engines and matplotlib only when used.
"""
