"""The Checkpoints page's automatic-scores section (admins): caption loss and perplexity beside the ratings.

`render(run_id, rater)` is the one call the page makes. It shows, on one iteration axis, the human criteria,
the caption loss and the sampler's perplexity per checkpoint (mean and 95 % interval over samples), then
Spearman's ρ with a bootstrap interval between each automatic score and each criterion, per sample and per
checkpoint, and one sentence saying which score tracks which criterion, or that none does. The statistics
live in workbench/analytics/automatic_scores.py; the analysis is cached until ratings or scores change.
"""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st

from db.automatic_scores import run_sample_scores, scores_version
from workbench.app.analytics import automatic_scores as auto
from workbench.app.analytics.scores import interval_from_moments
from workbench.app.app_pages import shared

PANELS = {"criteria": "human criteria (1–5)", "caption_loss": "caption loss (nats)", "perplexity": "perplexity"}
# the criteria keep the Checkpoints chart's colours
COLOURS = {"generality": "#1f77b4", "emoji style": "#ff7f0e", "quality": "#2ca02c", "caption loss": "#9467bd",
           "perplexity": "#8c564b"}


@dataclass(frozen=True)
class Analysis:
    samples: int
    with_caption_loss: int
    rated: int
    rated_checkpoints: int
    series: list[dict]  # rows of the figure: step, panel, series, mean, low, high, n
    correlations: list[auto.Correlation]
    sentence: str


def analyse(rows) -> Analysis:
    """Everything the section draws, from the run's per-sample rows (pure; cached by `_analysis`)."""
    series = []
    for point in auto.checkpoint_intervals(rows):
        for score in auto.AUTOMATIC:
            iv = point.intervals[score]
            if iv is not None:
                series.append(_point(point.step, score, auto.NAMES[score], iv))
    for step, criterion, iv in _criterion_intervals(rows):
        series.append(_point(step, "criteria", auto.NAMES[criterion], iv, low=1.0, high=5.0))
    found = auto.correlations(rows)
    return Analysis(len(rows), sum(r.caption_loss is not None for r in rows), sum(r.ratings > 0 for r in rows),
                    len({r.checkpoint_id for r in rows if r.ratings}), series, found, auto.summary_sentence(found))


def _criterion_intervals(rows):
    """Per rated checkpoint and criterion: mean and interval of the per-sample mean ratings."""
    by_step: dict[int, list] = {}
    for r in rows:
        if r.ratings:
            by_step.setdefault(r.step, []).append(r)
    for step, rated in sorted(by_step.items()):
        for criterion in auto.CRITERIA:
            values = [getattr(r, criterion) for r in rated]
            n, mean = len(values), sum(values) / len(values)
            yield step, criterion, interval_from_moments(n, mean, sum(v * v for v in values) / n)


def _point(step, panel, name, iv, low=None, high=None) -> dict:
    lo, hi = iv.low, iv.high  # one sample: an unbounded interval, drawn as the point alone
    lo = iv.mean if lo == float("-inf") else lo if low is None else max(lo, low)
    hi = iv.mean if hi == float("inf") else hi if high is None else min(hi, high)
    return {"step": step, "panel": PANELS[panel], "series": name, "mean": iv.mean, "low": lo, "high": hi, "n": iv.n}


@st.cache_data(max_entries=32, show_spinner=False)
def _analysis(url: str, run_id: int, version: tuple) -> Analysis:
    """Cached per database, run and data version (`scores_version`)."""
    with shared.reading() as session:
        return analyse(run_sample_scores(session, run_id))


def _figure(series: list[dict]):
    frame = pd.DataFrame(series)
    base = alt.Chart(frame).encode(
        x=alt.X("step:Q", title="iteration", axis=alt.Axis(format=",d")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values()))),
    )
    band = base.mark_area(opacity=0.15).encode(y=alt.Y("low:Q", title=None, scale=alt.Scale(zero=False)), y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="mean:Q",
        tooltip=["step", "series", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("low:Q", format=".3f"),
                 alt.Tooltip("high:Q", format=".3f"), "n"],
    )
    return (alt.layer(band, line, data=frame)
            .properties(height=150, width=640)
            .facet(row=alt.Row("panel:N", title=None, sort=list(PANELS.values())))
            .resolve_scale(y="independent"))


def _table(found: list[auto.Correlation]) -> pd.DataFrame:
    return pd.DataFrame([
        {"automatic score": auto.NAMES[c.score], "criterion": auto.NAMES[c.criterion], "per": c.level, "n": c.n,
         "ρ": round(c.rho, 3), "95 % low": None if c.low is None else round(c.low, 3),
         "95 % high": None if c.high is None else round(c.high, 3)}
        for c in found
    ])


def render(run_id: int, rater: shared.CurrentRater) -> None:
    """The section (admins only; raters see nothing of it)."""
    if not rater.is_admin:
        return
    st.subheader("Automatic scores against the ratings")
    with shared.reading() as session:
        version = scores_version(session, run_id)
    analysis = _analysis(shared.db_url(), run_id, version)
    if not analysis.series:
        st.info("No automatic scores for this run yet.")
        return
    st.caption("Lower is better for both automatic scores: caption loss is the captioner's cross-entropy of the "
               "prompt given the image (nats per token), perplexity the sampler's of its own image tokens. Means "
               "and 95 % intervals over each checkpoint's samples.")
    if analysis.with_caption_loss < analysis.samples:
        st.caption(f"{analysis.with_caption_loss} of {analysis.samples} samples have a caption loss: train a "
                   f"captioner (`emojich captioner train`), then `emojich score --run {run_id}`.")
    st.altair_chart(_figure(analysis.series), width="stretch")
    st.info(analysis.sentence)
    if analysis.correlations:
        st.caption("Spearman's ρ with a 95 % percentile-bootstrap interval (scipy), per sample over the rated "
                   "samples and per checkpoint over the rated checkpoints' means.")
        st.dataframe(_table(analysis.correlations), hide_index=True)
    if analysis.rated_checkpoints < auto.MIN_POINTS:
        st.caption(f"Per checkpoint: needs at least {auto.MIN_POINTS} rated checkpoints; this run has "
                   f"{analysis.rated_checkpoints}.")
