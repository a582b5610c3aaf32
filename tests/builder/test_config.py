"""The builder config: presets load, overrides apply, mistakes are one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from falsereject.builder.config import backend_identity, load_builder_config
from falsereject.errors import UserError
from falsereject.llm import BackendConfig

ROOT = Path(__file__).resolve().parents[2]


def test_offline_preset():
    c = load_builder_config(ROOT / "builders/configs/offline.yaml")
    assert c.models.generator.model == "embedded" and c.models.extractor is None
    assert len(c.validation.pool) >= 2 and c.validation.min_refusals == 1
    assert c.work_path == Path("build/falsereject-offline.work")


def test_full_preset_has_real_endpoints_and_a_pool_of_four_or_more():
    c = load_builder_config(ROOT / "builders/configs/full.yaml")
    roles = [c.models.generator, c.models.discriminator, c.models.orchestrator, c.models.responder]
    assert all(b.provider == "openai" and b.base_url for b in roles)
    pool = c.validation.pool
    assert len(pool) >= 4 and len({t.backend.model for t in pool}) == len(pool)
    assert all(t.backend.base_url for t in pool)


def test_overrides_and_flags():
    c = load_builder_config(
        ROOT / "builders/configs/offline.yaml", ["adversarial.max_rounds=5", "dedup.threshold=0.8"]
    )
    assert c.adversarial.max_rounds == 5 and c.dedup.threshold == 0.8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("adversarial.rounds=2", r"adversarial: unknown key\(s\) rounds"),
        ("validation.min_refusals=3", "min_refusals"),
        ("responses.kinds=[instruct, essay]", "essay"),
        ("validation.pool=[{name: a}, {name: a}]", "unique"),
        ("max_concurrency=many", "max_concurrency"),
        ("annotation.annotators=1", "annotators"),
        ("adversarial.accept=[harmful]", "adversarial.accept"),
        ("adversarial.accept=[]", "adversarial.accept"),
        ("orchestrator.require=[benign, kind]", "orchestrator.require"),
    ],
)
def test_mistakes_are_user_errors(override, message):
    with pytest.raises(UserError, match=message):
        load_builder_config(None, [override])


def test_unknown_key_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seeds:\n  sorces: []\n")
    with pytest.raises(UserError) as info:
        load_builder_config(path)
    assert str(path) in str(info.value) and "sorces" in str(info.value)


def test_backend_identity_ignores_the_host():
    a = BackendConfig(provider="openai", model="m", base_url="http://a:1/v1", generation={"max_tokens": 5})
    b = BackendConfig(
        provider="openai",
        model="m",
        base_url="http://b:2/v1",
        max_concurrency=99,
        generation={"max_tokens": 5},
    )
    assert backend_identity(a) == backend_identity(b)
    assert backend_identity(a) != backend_identity(BackendConfig(provider="openai", model="m2"))
