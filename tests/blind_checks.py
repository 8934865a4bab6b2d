"""What "blind" means, checked on the messages a rater's browser receives (AppTest's ForwardMsgs or
the websocket frames a real browser gets, as JSON): no run, checkpoint, step, image hash or other
rater's name in any string the app sends, no id in any widget key."""
from __future__ import annotations

import json
import re


def values(messages: list[str]) -> tuple[list[str], list[float]]:
    """The strings and numbers the app put into its messages (not the protocol's own field names);
    JSON inside a string (a component's data) is opened, its keys counted as strings too."""
    strings: list[str] = []
    numbers: list[float] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, bool):
            return
        elif isinstance(node, int | float):
            numbers.append(node)
        elif isinstance(node, str):
            strings.append(node)
            if node[:1] in "{[":
                try:
                    inner = json.loads(node)
                except ValueError:
                    return
                strings.extend(keys_of(inner))
                walk(inner)

    for message in messages:
        message = json.loads(message)
        message.pop("pageProfile", None)  # Streamlit's own usage profile: command and argument names
        walk(message)
    return strings, numbers


def keys_of(node) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(k for v in node.values() for k in keys_of(v))]
    if isinstance(node, list):
        return [k for v in node for k in keys_of(v)]
    return []


def media_names(messages: list[str]) -> set[str]:
    return set(re.findall(r"/media/([0-9a-f]+)\.(?:png|jpg|jpeg)", " ".join(messages)))


def assert_blind(messages: list[str], tables: list[str], seeded, shas: set[str], paths: set[str]) -> None:
    strings, numbers = values(messages)
    everything = "\n".join(strings + tables)  # every text, label, key, URL, script and component datum
    lowered = everything.lower()
    for word in ("seed-run", "step", "checkpoint", "rater2", "admin", "sample_id", "sampleid", *paths):
        assert word.lower() not in lowered, word
    for step in seeded.steps[1:]:
        assert step not in numbers, step
        assert not re.search(rf"(?<![\w,]){step}(?![\w,])|(?<![\w,]){step:,}(?![\w,])", everything), step
    assert not any(sha in everything for sha in shas)
    keys = set(re.findall(r"\$\$ID-[0-9a-f]+-([^\s\"]+)", everything))
    assert keys and not [k for k in keys if any(part.isdigit() for part in k.split("."))]  # no id in a widget key
