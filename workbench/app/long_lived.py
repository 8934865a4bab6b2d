"""Keep the app server's long-lived objects out of the garbage collector's walk.

Streamlit runs a full collection (`gc.collect(2)`) after every script run (`runner.postScriptGC`), and
a full collection walks every object the collector tracks: in this app's server, with Streamlit and
SQLAlchemy imported, about 135,000 objects, and 287,000 once torch is (Masks, Stickers). That walk was
two thirds of the server's CPU under the soak (py-spy), 96-180 ms on a fast machine for every key
press, widget event and polling tick of every rater (bench/bench_rerun_gc.py). Modules, classes and
functions live as long as the process, so once the imports are done they move to the collector's
permanent generation (`gc.freeze`) and the collection after each run walks only what runs made.

The price: an object alive at a freeze that later becomes garbage only through a reference cycle is
never collected. A freeze happens only when modules were imported since the last one (the first runs of
a process, the first visit of a page that imports more), so that is a bounded amount, once.
"""
from __future__ import annotations

import gc
import sys

_modules_when_frozen = 0


def freeze_imports() -> bool:
    """After a script run: if modules were imported since the last freeze, collect the garbage there
    is (it is never frozen) and freeze everything else alive. True if it froze."""
    global _modules_when_frozen
    if len(sys.modules) <= _modules_when_frozen:
        return False
    gc.collect()
    gc.freeze()
    _modules_when_frozen = len(sys.modules)
    return True
