"""Bot (admins): what the Telegram bot's users ask for and pick — requests per day, the queue, the median
time from caption to album, failures, the most-picked captions and the picked stickers."""
from __future__ import annotations

from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from db import bot_stats
from workbench.app.app_pages import shared

COLUMNS = 8

per_day_query = shared.query(bot_stats.requests_per_day)
queue_query = shared.query(bot_stats.queue_state)
median_query = shared.query(bot_stats.median_answer_s)
failures_query = shared.query(bot_stats.recent_failures)
captions_query = shared.query(bot_stats.most_picked_captions)
picked_query = shared.query(bot_stats.picked_stickers)

rater = shared.rater()
st.title("Bot")
if not rater.is_admin:
    st.info("The Bot page is for admins.")
    st.stop()

days = per_day_query(30)
queue = queue_query()
median = median_query(1000)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Requests, last 30 days", sum(d.requests for d in days))
c2.metric("Queue", f"{queue.queued} waiting", f"{queue.running} drawing", delta_color="off")
c3.metric("Median time to answer", "—" if median is None else f"{median:.1f} s")
c4.metric("Failed requests", queue.failed)
if not days:
    st.info("Nobody has asked the bot for anything yet (`emojich bot --token-file FILE`, then `emojich worker`).")
    st.stop()

st.subheader("Requests per day")
frame = pd.DataFrame([asdict(d) for d in days])
st.altair_chart(
    alt.Chart(frame.melt("day", var_name="kind", value_name="count")).mark_bar().encode(
        x=alt.X("day:O", title="day (UTC)"), y=alt.Y("count:Q", title="requests"), color="kind:N",
        xOffset="kind:N", tooltip=["day", "kind", "count"]),
    width="stretch",
)

left, right = st.columns(2)
with left:
    st.subheader("Most-picked captions")
    captions = captions_query(20)
    if captions:
        st.dataframe(pd.DataFrame(captions, columns=["caption", "picks"]), hide_index=True)
    else:
        st.caption("No stickers picked yet.")
with right:
    st.subheader("Failures")
    failures = failures_query(20)
    if failures:
        st.dataframe(pd.DataFrame([asdict(f) for f in failures]), hide_index=True)
    else:
        st.caption("No failed requests.")

st.subheader("Picked stickers")
picked = picked_query(48)
if not picked:
    st.caption("No stickers picked yet.")
for start in range(0, len(picked), COLUMNS):
    for item, column in zip(picked[start:start + COLUMNS], st.columns(COLUMNS), strict=False):
        with column:
            st.image(shared.png(item.rgba_sha256), width="stretch")
            st.caption(f"{item.prompt}{' (removed)' if item.status == 'removed' else ''} · sample {item.sample_id}")
