"""Raters (admins only): each rater's offset from and agreement with the leave-one-out consensus,
test–retest on their silent repeats, a flag for outliers, and the recommendation with and without
the flagged raters."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from db.scores import CRITERIA
from workbench.app import run_summary
from workbench.app.analytics.rater_quality import FLAG_RULE
from workbench.app.app_pages import shared

NAMES = {"generality": "generality", "emoji_style": "emoji style", "quality": "quality"}

quality_query = shared.query(run_summary.quality)
both_query = shared.query(run_summary.recommendation_with_and_without)

shared.require_admin()
run_id = shared.require_run()
st.title("Raters")
raters = quality_query(run_id)
if not raters:
    st.info("No ratings for this run yet.")
    st.stop()


def _fmt(value: float | None, pattern: str = "{:+.2f}") -> str:
    return "–" if value is None else pattern.format(value)


table = pd.DataFrame([{
    "rater": r.name, "ratings": r.ratings, "shared with others": r.shared, "offset": _fmt(r.offset),
    **{f"offset {NAMES[c]}": _fmt(r.offsets.get(c)) for c in CRITERIA},
    "agreement r": _fmt(r.agreement, "{:.2f}"), "repeats": r.repeats, "retest ±": _fmt(r.retest_diff, "{:.2f}"),
    "flag": "⚑ " + "; ".join(r.reasons) if r.flagged else "",
} for r in raters])
st.dataframe(table, hide_index=True)
st.caption("Offset: the rater's combined score minus the mean of the other raters of the same image, averaged "
           "(negative: harsher). Agreement: the correlation of the two. Retest ±: mean difference per score between "
           f"a silent repeat and the first rating of the same image (the first rating is never changed). {FLAG_RULE}")

both = both_query(run_id)
st.subheader("Recommendation with and without flagged raters")
if both.with_all is None:
    st.info("Not enough ratings for a recommendation yet.")
elif not both.flagged:
    st.write(f"Nobody is flagged: step **{both.with_all.step}** with everyone.")
else:
    without = "–" if both.without_flagged is None else f"step **{both.without_flagged.step}**"
    st.write(f"With everyone: step **{both.with_all.step}** · without {', '.join(both.flagged)}: {without}")
st.caption("The decision view holds the recommendation back until coverage and overlap reach the design's minimums.")
