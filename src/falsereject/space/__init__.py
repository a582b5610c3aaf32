"""The Gradio Space: one prompt, two models side by side, each answer judged, on a free CPU.

- :mod:`~falsereject.space.config`: the Space's YAML (:class:`SpaceConfig`, two
  :class:`ColumnConfig`), ``FALSEREJECT_SPACE_*`` env overrides;
- :mod:`~falsereject.space.columns`: which model each column really runs (fallbacks), its
  honest title, its backend, and the fixed sentences shown when it fails;
- :mod:`~falsereject.space.examples`: one benign example per category and harmful controls;
  the dataset's reference label of any sample prompt;
- :mod:`~falsereject.space.cached`: precomputed, judged answers to the examples (shown at
  once) and the script that makes them (``spaces/cache_examples.py``);
- :mod:`~falsereject.space.budget`: the measured speed and the token budget it allows;
- :mod:`~falsereject.space.compare`: one prompt to both columns, answers streamed, then
  judged, as a stream of :class:`Frame`;
- :mod:`~falsereject.space.explain`: plain-language reasons quoting the deciding sentence;
- :mod:`~falsereject.space.render` and :mod:`~falsereject.space.chart`: escaped HTML pieces
  and the chart of the paper's 29 models;
- :mod:`~falsereject.space.app` (:class:`SpaceApp`: state and handlers) and
  :mod:`~falsereject.space.layout` (the Blocks), the entry point of
  ``spaces/falsereject_demo/app.py``;
- :mod:`~falsereject.space.deploy`: pushing the Space folder to the Hub (``spaces/deploy.py``).

Failures never reach the page as a traceback: a down backend, a timeout or an over-long
prompt each get one friendly sentence, and no URL, environment variable or secret is shown.
"""

from falsereject.space.app import PAGE, SpaceApp
from falsereject.space.budget import SpeedMeter
from falsereject.space.cached import CachedAnswers, column_key
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
from falsereject.space.compare import MSG_EMPTY, MSG_TOO_LONG, Frame, Side, compare_stream
from falsereject.space.config import ColumnConfig, SpaceConfig, env_overrides, load_space_config
from falsereject.space.examples import Example, ExampleBank
from falsereject.space.render import answer_markdown, badge

__all__ = [
    "MSG_BROKEN",
    "MSG_DOWN",
    "MSG_EMPTY",
    "MSG_FAILED",
    "MSG_TOO_LONG",
    "PAGE",
    "CachedAnswers",
    "Column",
    "ColumnConfig",
    "Example",
    "ExampleBank",
    "Frame",
    "Side",
    "SpaceApp",
    "SpaceConfig",
    "SpeedMeter",
    "answer_markdown",
    "badge",
    "build_columns",
    "column_key",
    "column_title",
    "compare_stream",
    "describe_backend",
    "env_overrides",
    "load_space_config",
    "resolve_column",
]
