"""Dataset: item counts per dataset and split, and the caption word-count histogram."""
from __future__ import annotations

from dataclasses import asdict

import altair as alt
import pandas as pd
import streamlit as st

from db.dataset import caption_word_counts, list_datasets
from workbench.app.app_pages import shared

datasets_query = shared.query(list_datasets)
words_query = shared.query(caption_word_counts)

shared.rater()
st.title("Dataset")
datasets = datasets_query()
if not datasets:
    st.info("No dataset yet: build one with `emojich dataset build`.")
    st.stop()
st.dataframe(pd.DataFrame([asdict(d) for d in datasets]), hide_index=True)
names = [d.name for d in datasets]
name = st.selectbox("Dataset", names, key="dataset.name")
counts = words_query(name)
frame = pd.DataFrame(sorted(counts.items()), columns=["words", "captions"])
st.subheader("Words per caption")
st.altair_chart(
    alt.Chart(frame).mark_bar().encode(x=alt.X("words:O", title="words in the caption"), y=alt.Y("captions:Q", title="captions"),
                                       tooltip=["words", "captions"]),
    width="stretch",
)
total = int(frame["captions"].sum())
mean = float((frame["words"] * frame["captions"]).sum() / total) if total else 0.0
st.caption(f"{total} captions, {mean:.1f} words on average.")
