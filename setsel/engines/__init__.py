"""LLM engines behind one batched protocol (DESIGN §5): hf (transformers), vllm, openai.

Importing this package is light; backends load on :func:`load_engine`.
"""

from setsel.engines.base import ContextLengthError, EngineError, LLMEngine, NotSupportedError
from setsel.engines.models import ModelNotFoundError
from setsel.engines.registry import DEFAULT_MODEL, ENGINES, load_engine, parse_model_id, register_engine
from setsel.types import Completion, GenerationParams, RegexConstraint, Scored, SelectionConstraint

__all__ = [
    "DEFAULT_MODEL",
    "ENGINES",
    "Completion",
    "ContextLengthError",
    "EngineError",
    "GenerationParams",
    "LLMEngine",
    "ModelNotFoundError",
    "NotSupportedError",
    "RegexConstraint",
    "Scored",
    "SelectionConstraint",
    "load_engine",
    "parse_model_id",
    "register_engine",
]
