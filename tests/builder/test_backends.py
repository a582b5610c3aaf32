"""The agents' backends: one pool of role backends over shared providers and one global bound."""

from __future__ import annotations

import asyncio

from builder.scripted_build import scripted_config
from falsereject.builder.backends import ROW_METER, RoleBackendPool
from falsereject.llm import ConcurrencyLimit, UsageCounters
from falsereject.llm.scripted import ScriptedBackend

HI = [{"role": "user", "content": "hi"}]


def test_roles_on_one_model_share_its_provider(tmp_path):
    same = "{provider: scripted, model: one, cache_dir: 'off'}"
    config = scripted_config(tmp_path, f"models.generator={same}", f"models.discriminator={same}")
    pool = RoleBackendPool(config, ConcurrencyLimit(4))
    gen, disc, orch = (pool.get(r) for r in ("generator", "discriminator", "orchestrator"))
    assert pool.get("generator") is gen
    assert gen.inner.usage is disc.inner.usage  # one raw provider under both stacks
    assert orch.inner.usage is not gen.inner.usage
    assert pool.labels()["generator"] == "scripted:one"


def test_one_bound_over_all_roles_and_usage_per_role_and_row(tmp_path):
    bound = ConcurrencyLimit(3)
    raws = {r: ScriptedBackend("x", latency=0.05) for r in ("generator", "discriminator")}
    pool = RoleBackendPool(scripted_config(tmp_path), bound, raws)
    row = UsageCounters()

    async def run():
        ROW_METER.set(row)
        calls = [pool.get(r).agenerate(HI) for r in raws for _ in range(6)]
        await asyncio.gather(*calls)
        await pool.aclose()

    asyncio.run(run())
    assert bound.peak == 3 and bound.calls == 12 and bound.busy_s >= 12 * 0.05
    assert sum(raw.max_in_flight for raw in raws.values()) >= 3
    assert {r: u["calls"] for r, u in pool.usage().items()} == {"discriminator": 6, "generator": 6}
    assert row.calls == 12 and row.completion_tokens == 12


def test_cache_hits_take_no_slot(tmp_path):
    cached = f"{{provider: scripted, model: c, cache_dir: '{tmp_path / 'cache'}'}}"
    bound = ConcurrencyLimit(2)
    config = scripted_config(tmp_path, f"models.generator={cached}")
    generator = RoleBackendPool(config, bound).get("generator")
    first, again = (generator.generate([HI])[0] for _ in range(2))
    assert not first.cached and again.cached and again.text == first.text
    assert bound.calls == 1 and (generator.usage.calls, generator.usage.cache_hits) == (2, 1)
