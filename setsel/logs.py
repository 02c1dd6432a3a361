"""Where log lines go: the libraries' and Ray's to a file, the terminal kept for setsel's own
progress, results and warnings (issue 21, item 4).

The long commands (``setsel demo``, ``serve``, ``train``, ``train-head``, ``synthesize``) call
:func:`log_to_file` with a file in their run folder and name it at the end. From then on:

- every Python logger (setsel, transformers, peft, sentence-transformers, httpx, ray's driver
  loggers) writes INFO and above to that file; the terminal shows setsel's own INFO lines and
  everyone's WARNING and above (:func:`own_or_warning`);
- Python ``warnings`` are logged (``py.warnings``) instead of printed;
- a local Ray started afterwards (:func:`setsel.distributed.runtime.init_ray`) keeps its
  workers' and actors' output in its own session folder instead of echoing it to the terminal
  (``log_to_driver=False``), logs its driver at WARNING, and Ray Data keeps its INFO lines and
  progress bars in ``ray-data.log`` (:func:`ray_data_logging_config`).

``--verbose`` on the command line, or ``SETSEL_VERBOSE=1``, keeps everything on the terminal
as before (the file is still written). Pure: imports only the standard library.

Example:
    >>> path = log_to_file("runs/demo/setsel.log")     # doctest: +SKIP
    >>> logging.getLogger("transformers").info("only in the file")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

VERBOSE_ENV = "SETSEL_VERBOSE"
LOG_FILE_ENV = "SETSEL_LOG_FILE"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Loggers that install their own terminal handlers (and so bypass the root logger's):
#: their stream handlers are replaced by the log file while quiet.
LIBRARY_LOGGERS = ("ray", "ray.data", "ray.serve", "ray.train", "ray.tune", "ray.util", "transformers",
                   "sentence_transformers", "peft", "httpx", "urllib3", "filelock", "torch", "deepspeed",
                   "DeepSpeed")

#: Warning categories a user cannot act on (libraries' deprecation notices): log file only.
FILE_ONLY_WARNINGS = ("FutureWarning", "DeprecationWarning", "PendingDeprecationWarning")

#: Device files of accelerators DeepSpeed could use; with none present its auto-detection can only
#: pick the CPU, so ``DS_ACCELERATOR=cpu`` is set (same result, without its "unable to detect" warning).
ACCELERATOR_DEVICES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/kfd", "/dev/accel", "/dev/dri")


def verbose() -> bool:
    """Whether everything stays on the terminal (``--verbose`` / ``SETSEL_VERBOSE=1``)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def current_log_file() -> Path | None:
    """The file :func:`log_to_file` set up in this process (or a parent's, through the environment)."""
    value = os.environ.get(LOG_FILE_ENV)
    return Path(value) if value else None


def _is_terminal_handler(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def own_or_warning(record: logging.LogRecord) -> bool:
    """The terminal's filter while quiet: setsel's own INFO lines, anyone's WARNING and above.

    >>> own_or_warning(logging.makeLogRecord({"name": "setsel.training.head", "levelno": 20}))
    True
    >>> own_or_warning(logging.makeLogRecord({"name": "ray.data", "levelno": 20}))
    False
    >>> own_or_warning(logging.makeLogRecord({"name": "py.warnings", "levelno": 30, "msg": "x.py:3: FutureWarning: old"}))
    False
    """
    if record.name == "py.warnings" and any(f": {c}:" in record.getMessage() for c in FILE_ONLY_WARNINGS):
        return False
    return record.levelno >= logging.WARNING or record.name == "setsel" or record.name.startswith("setsel.")


def log_to_file(path: str | Path, level: int = logging.INFO) -> Path:
    """Send all logging to ``path`` (appended) and keep the terminal for setsel's own lines and warnings.

    Args:
        path: the log file; its folder is created.
        level: the lowest level written to the file.

    Returns:
        The absolute path, also exported as ``SETSEL_LOG_FILE`` so that Ray and child
        processes started afterwards find it.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ[LOG_FILE_ENV] = str(path)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_setsel", False):
            root.removeHandler(h)
            h.close()
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(FORMAT))
    file_handler.setLevel(level)
    file_handler._setsel = True  # type: ignore[attr-defined]
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    console.setLevel(logging.DEBUG if verbose() else logging.INFO)
    if not verbose():
        console.addFilter(own_or_warning)
    console._setsel = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(min(level, root.level) if root.level else level)
    logging.captureWarnings(True)
    if not verbose():
        # Progress bars of model loading/saving (transformers, huggingface_hub), in this process and
        # in the Ray workers it starts: setsel's own bars stay.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if not any(os.path.exists(d) for d in ACCELERATOR_DEVICES):
            os.environ.setdefault("DS_ACCELERATOR", "cpu")
    quiet_library_loggers()
    return path


def quiet_library_loggers(names: tuple[str, ...] = LIBRARY_LOGGERS) -> None:
    """Let the named loggers reach the terminal only through the root logger (so WARNING+),
    their records going to the log file. Call again after a library (Ray) installed its own
    handlers. No-op when verbose or when no log file is set."""
    if verbose() or current_log_file() is None:
        return
    for name in names:
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if _is_terminal_handler(h):
                logger.removeHandler(h)
        logger.propagate = True
    try:  # transformers prints through its own handler unless told to propagate
        import sys

        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_default_handler()
            hf_logging.enable_propagation()
            hf_logging.disable_progress_bar()
            # GGUF loading draws a plain tqdm bar, not transformers' own: off too (on a slow CPU it
            # printed ~25 lines per load into a non-terminal stdout)
            import functools

            from tqdm.auto import tqdm
            from transformers import modeling_gguf_pytorch_utils as gguf_utils

            if getattr(gguf_utils, "tqdm", None) is tqdm:
                gguf_utils.tqdm = functools.partial(tqdm, disable=True)
    except Exception:  # noqa: BLE001 - a logging tweak must never fail a run
        pass


def ray_data_logging_config(folder: str | Path) -> Path:
    """A ``RAY_DATA_LOGGING_CONFIG`` file (Ray Data's own schema) whose terminal handler shows
    WARNING and above only; INFO stays in Ray's ``ray-data.log``. Written once into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ray_data_logging.yaml"
    text = """version: 1
disable_existing_loggers: false
formatters:
  ray: {format: "%(asctime)s\\t%(levelname)s %(filename)s:%(lineno)s -- %(message)s"}
filters:
  console_filter: {"()": ray.data._internal.logging.HiddenRecordFilter}
handlers:
  file: {class: ray.data._internal.logging.SessionFileHandler, formatter: ray, filename: ray-data.log}
  console: {class: ray._private.log.PlainRayHandler, formatter: ray, level: WARNING, filters: [console_filter]}
loggers:
  ray.data: {level: DEBUG, handlers: [file, console], propagate: false}
"""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
