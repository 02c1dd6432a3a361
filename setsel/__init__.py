"""setsel: set-wise passage selection for retrieval-augmented generation.

Light at import: importing ``setsel`` (or ``types``, ``text``, ``prompts``, ``config``,
``cli``) never imports torch, ray, vllm or faiss.
"""

__version__ = "0.1.0"

from setsel.types import (  # noqa: E402
    Candidates,
    Completion,
    GenerationParams,
    Passage,
    Query,
    RegexConstraint,
    SampledSet,
    Scored,
    Selection,
    SelectionConstraint,
)

__all__ = [
    "__version__",
    "Candidates",
    "Completion",
    "GenerationParams",
    "Passage",
    "Query",
    "RegexConstraint",
    "SampledSet",
    "Scored",
    "Selection",
    "SelectionConstraint",
]
