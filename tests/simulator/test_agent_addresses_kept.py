"""``world.agent_addresses`` keeps enough address lists for a tune: a worker that runs every
path of a 32-path study on every trial asks for five roles a path, and must find all of them
kept on the second trial (each list of 2,000 traders costs ~70 ms of keccak to make again)."""

from __future__ import annotations

from simulator import world

ROLES = ("trader", "keeper", "arbitrageur", "hedger", "mm_vault")


def test_a_32_path_study_is_kept_whole():
    world._agent_addresses.cache_clear()
    seeds = range(1000, 1032)
    first = {(r, s): world.agent_addresses(r, 2, s) for s in seeds for r in ROLES}
    before = world._agent_addresses.cache_info()
    again = {(r, s): world.agent_addresses(r, 2, s) for s in seeds for r in ROLES}
    after = world._agent_addresses.cache_info()
    assert again == first
    assert after.hits - before.hits == len(first)  # the second trial makes none again
    assert after.misses == before.misses


def test_the_addresses_are_a_pure_function_of_role_count_and_salt():
    world._agent_addresses.cache_clear()
    a = world.agent_addresses("trader", 3, 7)
    world._agent_addresses.cache_clear()
    assert world.agent_addresses("trader", 3, 7) == a
    assert world.agent_addresses("trader", 3, 8) != a
    assert world.agent_addresses("keeper", 3, 7) != a
    assert len(set(a)) == 3 and all(x.startswith("0x") and len(x) == 42 for x in a)
