"""Keep the app server's long-lived objects out of the garbage collector's walk.

Streamlit runs a full collection (`gc.collect(2)`) after every script run (`runner.postScriptGC`), and
a full collection walks every object the collector tracks: in this app's server, with Streamlit and
SQLAlchemy imported, about 135,000 objects, and 287,000 once torch is (Masks, Stickers); 96-180 ms of
CPU on this project's 2-core machine for every key press, widget event and polling tick of every rater,
two thirds of the server's CPU under the soak (py-spy; bench/bench_rerun_gc.py). Modules, classes and
functions live as long as the process, so after a run that imported modules everything alive moves to
the collector's permanent generation (`gc.freeze`) and the collection after each run walks only what
later runs made.

The price: what is alive at a freeze (other sessions' runs in progress, this run's page namespace) and
later becomes garbage only through a reference cycle is held until the next freeze, which first
unfreezes and collects everything. So at most one freeze's worth is ever held, and freezes happen only
when modules were imported since the last (the first runs of a process, the first visit of a page that
imports more).
"""
from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()  # sessions run in threads of one process
_modules_when_frozen = 0


def freeze_imports() -> bool:
    """After a script run: if modules were imported since the last freeze, collect all garbage (what an
    earlier freeze held included) and freeze everything still alive. True if it froze."""
    global _modules_when_frozen
    if len(sys.modules) <= _modules_when_frozen:
        return False
    with _lock:
        if len(sys.modules) <= _modules_when_frozen:
            return False
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _modules_when_frozen = len(sys.modules)
    return True
