"""The Gradio Space: one prompt, two models side by side, each answer judged live.

- :mod:`~falsereject.space.config`: the Space's YAML (:class:`SpaceConfig`, two
  :class:`ColumnConfig`), ``FALSEREJECT_SPACE_*`` env overrides, the example prompts;
- :mod:`~falsereject.space.columns`: which model each column really runs (fallbacks), its
  honest title and description, its backend, and the fixed sentences shown when it fails;
- :mod:`~falsereject.space.compare`: one prompt to both columns, answers streamed, then judged,
  as a stream of :class:`Frame`;
- :mod:`~falsereject.space.layout`: the Gradio Blocks and :class:`SpaceApp`, the entry point of
  ``spaces/falsereject_demo/app.py``;
- :mod:`~falsereject.space.deploy`: pushing the Space folder to the Hub (``spaces/deploy.py``).

Answers stream (``Backend.astream``; local ``transformers`` models token by token, remote
servers in one piece); then the judge labels both. Failures never reach the page as a
traceback: a down backend, a timeout or an over-long prompt each get one friendly sentence,
and no URL, environment variable or secret is ever shown.
"""

from falsereject.space.columns import (
    MSG_BROKEN,
    MSG_DOWN,
    MSG_FAILED,
    Column,
    build_columns,
    column_title,
    describe_backend,
    resolve_column,
)
from falsereject.space.compare import MSG_EMPTY, MSG_TIMEOUT, MSG_TOO_LONG, Frame, Side, compare_stream
from falsereject.space.config import (
    ColumnConfig,
    SpaceConfig,
    env_overrides,
    load_examples,
    load_space_config,
)
from falsereject.space.layout import SpaceApp, badge_html

__all__ = [
    "MSG_BROKEN",
    "MSG_DOWN",
    "MSG_EMPTY",
    "MSG_FAILED",
    "MSG_TIMEOUT",
    "MSG_TOO_LONG",
    "Column",
    "ColumnConfig",
    "Frame",
    "Side",
    "SpaceApp",
    "SpaceConfig",
    "badge_html",
    "build_columns",
    "column_title",
    "compare_stream",
    "describe_backend",
    "env_overrides",
    "load_examples",
    "load_space_config",
    "resolve_column",
]
