"""Drive the app's custom components from AppTest the way the browser does: read what a
component was sent, and send back the trigger event its JavaScript would send."""
from __future__ import annotations

import itertools
import json

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState

_SEQ = itertools.count(1)


def components(at, key: str | None = None) -> list:
    nodes = [n for n in at._tree if getattr(n, "type", None) == "bidi_component"]
    return [n for n in nodes if key is None or n.key == key]


def component_data(at, key: str) -> dict:
    (node,) = components(at, key)
    return json.loads(node.proto.json)


def send_event(at, key: str, event: str, value) -> None:
    """What `setTriggerValue(event, value)` in the component's script does: a rerun whose widget
    states carry the event (callbacks run first, as in the browser)."""
    (node,) = components(at, key)
    states = at._tree.get_widget_states()
    trigger = WidgetState(id=_make_trigger_id(node.proto.id, "events"),
                          json_trigger_value=json.dumps([{"event": event, "value": value}]))
    states.widgets.append(trigger)
    at._run(states)


def rate_command(at, action: str, scores=None, token: str | None = None, mount: str = "test-mount", seq: int | None = None):
    """A Rate page command for the image on screen (or for `token`), as score_keys.py's script sends it."""
    command = {
        "token": token if token is not None else component_data(at, "rate.input")["token"],
        "action": action, "scores": list(scores) if scores else None,
        "mount": mount, "seq": seq if seq is not None else next(_SEQ),
    }
    send_event(at, "rate.input", "command", command)
    return command


def rate(at, g: int, s: int, q: int) -> None:
    rate_command(at, "score", (g, s, q))
