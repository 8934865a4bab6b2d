"""The app server's collection after every script run (Streamlit's `runner.postScriptGC`, a full
`gc.collect(2)`) walks only what runs made, not the imported modules: that walk cost 96-180 ms of CPU
per key press, widget event and polling tick (bench/bench_rerun_gc.py)."""
from __future__ import annotations

import gc
import sys
import types
import weakref

import pytest

from tests.test_app import rate, start
from workbench.app import long_lived


@pytest.fixture
def unfrozen(monkeypatch):
    gc.unfreeze()  # whatever an earlier test froze
    monkeypatch.setattr(long_lived, "_modules_when_frozen", 0)
    yield
    gc.unfreeze()


def test_after_a_page_run_the_imported_heap_is_frozen(app_env, fresh_seeded, unfrozen):
    _, token = fresh_seeded.raters["rater1"]
    at = start(token)
    assert [t.value for t in at.title] == ["Rate"]
    rate(at, 4, 5, 3)
    frozen = gc.get_freeze_count()
    assert frozen > 50_000  # SQLAlchemy's, Streamlit's and the app's modules, classes and functions
    assert len(gc.get_objects()) < frozen / 2  # what the collection after each run still walks
    at.run()
    assert gc.get_freeze_count() == frozen  # a rerun that imports nothing new does not freeze again


def test_it_freezes_again_only_when_modules_were_imported(unfrozen, monkeypatch):
    assert long_lived.freeze_imports() is True
    assert long_lived.freeze_imports() is False  # nothing imported since: a rerun costs nothing here
    monkeypatch.setitem(sys.modules, "emojich_lazily_imported", types.ModuleType("emojich_lazily_imported"))
    assert long_lived.freeze_imports() is True  # e.g. torch, the first time someone opens Masks


def test_garbage_an_earlier_freeze_held_is_collected_at_the_next(unfrozen, monkeypatch):
    class Node:
        pass

    cycle = Node()
    cycle.me = cycle  # freed only by the collector
    gone = weakref.ref(cycle)
    monkeypatch.setitem(sys.modules, "emojich_first_import", types.ModuleType("emojich_first_import"))
    assert long_lived.freeze_imports() is True
    del cycle
    gc.collect()
    assert gone() is not None  # frozen: out of the collector's reach
    monkeypatch.setitem(sys.modules, "emojich_second_import", types.ModuleType("emojich_second_import"))
    assert long_lived.freeze_imports() is True
    assert gone() is None
