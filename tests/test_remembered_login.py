"""Remembered logins (workbench/app/remembered_login.py): ids, expiry, logout, token reset, deleted raters."""
from __future__ import annotations

import hashlib
import threading

from db.engine import read_session, write_session
from db.models import Rater
from db.raters import add_rater, reset_token
from workbench.app.remembered_login import SessionStore, looks_like_session_id, restore


def test_only_the_ids_hash_is_kept_and_lookup_finds_it():
    store = SessionStore(lifetime_s=100)
    first, second = store.issue(7, "hash-a", now=0), store.issue(7, "hash-a", now=0)
    assert first != second and looks_like_session_id(first) and len(first) >= 40
    assert first not in store._entries and hashlib.sha256(first.encode()).hexdigest() in store._entries
    entry = store.lookup(first, now=50)
    assert (entry.rater_id, entry.token_hash, entry.expires_at) == (7, "hash-a", 100)


def test_bad_expired_and_forgotten_ids_find_nothing():
    store = SessionStore(lifetime_s=100)
    session_id = store.issue(1, "h", now=0)
    assert store.lookup(None, now=1) is None and store.lookup("", now=1) is None
    assert store.lookup("x" * 43, now=1) is None and store.lookup(session_id + ";", now=1) is None
    assert store.lookup(session_id, now=100) is None and len(store) == 0  # expired: dropped
    other = store.issue(1, "h", now=200)
    store.forget(other)
    store.forget("not an id")  # harmless
    assert store.lookup(other, now=201) is None


def test_issuing_prunes_expired_entries():
    store = SessionStore(lifetime_s=10)
    for _ in range(3):
        store.issue(1, "h", now=0)
    store.issue(2, "h", now=20)
    assert len(store) == 1


def test_threads_share_one_store():
    store = SessionStore()
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.extend(store.issue(1, "h", now=0) for _ in range(50))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 200 and len(store) == 200


def test_restore_needs_a_live_rater_with_the_same_token(engine):
    store = SessionStore()
    with write_session(engine) as s:
        alice, _ = add_rater(s, "alice")
        bob, _ = add_rater(s, "bob")
        alice_id, alice_hash, bob_id, bob_hash = alice.id, alice.token_hash, bob.id, bob.token_hash
    alice_session, bob_session = store.issue(alice_id, alice_hash, now=0), store.issue(bob_id, bob_hash, now=0)
    with read_session(engine) as s:
        assert restore(store, alice_session, s, now=1).name == "alice"
        assert restore(store, "unknown" * 8, s, now=1) is None
    with write_session(engine) as s:
        reset_token(s, "alice")  # `emojich raters reset-token alice` ends her remembered sessions
        s.delete(s.get(Rater, bob_id))
    with read_session(engine) as s:
        assert restore(store, alice_session, s, now=2) is None
        assert restore(store, bob_session, s, now=2) is None
    assert len(store) == 0  # both stale entries forgotten
