"""Checkpoints: scores per criterion against iteration with 95 % intervals, counts, agreement,
loss and LR curves, one prompt across checkpoints (admins), the recommended stopping checkpoint,
the admin's decision, and a CSV export of the ratings."""
from __future__ import annotations

import csv
import io

import altair as alt
import pandas as pd
import streamlit as st

from db.checkpoints import prompt_across_checkpoints, run_prompts
from db.decisions import add_decision, latest_decision
from db.errors import EmojichError
from db.ratings import EXPORT_COLUMNS, iter_ratings_for_export
from db.runs import metric_series
from db.samples import get_checkpoint
from db.scores import CRITERIA, checkpoint_scores, coincidences, ratings_per_rater
from workbench.app.analytics.agreement import agreement_warning, ordinal_alpha_from_coincidences
from workbench.app.analytics.scores import interval_from_moments
from workbench.app.analytics.stopping_rule import RULE, CheckpointPoint, recommend
from workbench.app.app_pages import automatic_scores_section, shared
from workbench.app.plain_text import escape_markdown

NAMES = {"generality": "generality", "emoji_style": "emoji style", "quality": "quality", "combined": "combined"}
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#444444"]

scores_query = shared.query(checkpoint_scores)
per_rater_query = shared.query(ratings_per_rater)
metrics_query = shared.query(metric_series)


def _alphas(session, run_id: int) -> dict[str, float | None]:
    return {c: ordinal_alpha_from_coincidences(matrix) for c, matrix in coincidences(session, run_id).items()}


alphas_query = shared.query(_alphas)


def _prompts(session, run_id: int) -> list[tuple[int, str]]:
    return [(p.id, p.text) for p in run_prompts(session, run_id)]


prompts_query = shared.query(_prompts)
figure4_query = shared.query(prompt_across_checkpoints)


def _decision(session, run_id: int):
    d = latest_decision(session, run_id)
    if d is None:
        return None
    from db.raters import get_rater

    return get_checkpoint(session, d.checkpoint_id).step, get_rater(session, d.rater_id).name, d.reason, d.created_at


decision_query = shared.query(_decision)


def export_csv(run_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    with shared.reading() as session:
        writer.writerows(iter_ratings_for_export(session, run_id))
    return out.getvalue()


rater = shared.rater()
run_id = shared.require_run()
st.title("Checkpoints")
rows = scores_query(run_id)
if not rows:
    st.info("No ratings for this run yet: rate some samples first.")
    st.stop()

points, table = [], []
for row in rows:
    intervals = {c: interval_from_moments(m.n, m.mean, m.mean_sq) for c, m in row.by_criterion.items()}
    combined = interval_from_moments(row.combined.n, row.combined.mean, row.combined.mean_sq)
    points.append(CheckpointPoint(row.checkpoint_id, row.step, combined, intervals))
    for name, iv in (*intervals.items(), ("combined", combined)):
        # drawn within the 1–5 scale: one rated sample has an unbounded interval, a few can overshoot
        table.append({"step": row.step, "criterion": NAMES[name], "mean": iv.mean, "low": max(iv.low, 1.0),
                      "high": min(iv.high, 5.0), "samples": iv.n, "ratings": row.ratings})
frame = pd.DataFrame(table)

recommendation = recommend(points)
st.subheader("Recommended stopping checkpoint")
if recommendation is None:
    st.info("Each checkpoint needs at least two ratings before the rule can be applied.")
else:
    st.success(f"**Step {recommendation.step}** — {recommendation.explain()}")
    for flag in recommendation.flags:
        st.warning(f"⚠ Trade-off at {flag.describe()}.")
st.caption(f"Rule: {RULE}")

st.subheader("Scores against iteration (mean and 95 % interval)")
st.caption("Each sample's scores are first averaged over its raters; the interval is over the samples (prompts).")
base = alt.Chart(frame).encode(
    x=alt.X("step:Q", title="iteration", axis=alt.Axis(format=",d")),
    color=alt.Color("criterion:N", scale=alt.Scale(domain=list(NAMES.values()), range=COLOURS), title=None),
)
band = base.mark_area(opacity=0.15).encode(y=alt.Y("low:Q", title="score (1–5)", scale=alt.Scale(domain=[1, 5])), y2="high:Q")
line = base.mark_line(point=True).encode(y="mean:Q", tooltip=["step", "criterion", alt.Tooltip("mean:Q", format=".2f"),
                                                              alt.Tooltip("low:Q", format=".2f"), alt.Tooltip("high:Q", format=".2f"), "ratings"])
layers = [band, line]
if recommendation is not None:
    layers.append(alt.Chart(pd.DataFrame({"step": [recommendation.step]})).mark_rule(strokeDash=[4, 4]).encode(x="step:Q"))
st.altair_chart(alt.layer(*layers), width="stretch")
automatic_scores_section.render(run_id, rater)  # admins: caption loss and perplexity against the ratings

st.subheader("Agreement between raters (Krippendorff's α, ordinal)")
alphas = alphas_query(run_id)
for column, criterion in zip(st.columns(len(CRITERIA)), CRITERIA, strict=True):
    alpha = alphas[criterion]
    column.metric(NAMES[criterion], "–" if alpha is None else f"{alpha:.2f}")
    warning = agreement_warning(alpha)
    if warning:
        column.warning(warning)

st.subheader("Ratings")
counts = pd.DataFrame([{"step": r.step, "ratings": r.ratings, "samples rated": r.samples} for r in rows])
left, right = st.columns(2)
left.dataframe(counts, hide_index=True)
right.dataframe(pd.DataFrame(per_rater_query(run_id), columns=["rater", "ratings"]), hide_index=True)
st.download_button("Export ratings as CSV", data=lambda: export_csv(run_id), file_name=f"ratings-run{run_id}.csv",
                   mime="text/csv", key="checkpoints.export")

st.subheader("Training loss and learning rate")
series = pd.DataFrame(metrics_query(run_id), columns=["name", "step", "value"])
if series.empty:
    st.info("No metrics logged for this run.")
else:
    loss_col, lr_col = st.columns(2)
    for column, name, title in ((loss_col, "loss", "training loss"), (lr_col, "lr", "learning rate")):
        part = series[series["name"] == name]
        column.altair_chart(alt.Chart(part, title=title).mark_line().encode(
            x=alt.X("step:Q", title="iteration", axis=alt.Axis(format=",d")), y=alt.Y("value:Q", title=name)), width="stretch")

if rater.is_admin:
    st.subheader("One prompt across all checkpoints")
    prompts = prompts_query(run_id)
    if prompts:
        texts = dict(prompts)
        prompt_id = st.selectbox("Prompt", list(texts), format_func=texts.get, key="checkpoints.prompt")
        tiles = figure4_query(run_id, prompt_id)
        per_row = 8
        for start in range(0, len(tiles), per_row):
            for tile, column in zip(tiles[start : start + per_row], st.columns(per_row), strict=False):
                column.image(shared.image_at(tile.image_sha256, 128), caption=f"step {tile.step}", width="stretch")

st.subheader("Decision")
current = decision_query(run_id)
if current:
    step, who, reason, when = current
    st.markdown(f"Chosen: **step {step}**")
    st.text(f"by {who} on {when:%Y-%m-%d %H:%M} — {reason}")  # a name and a reason are text, never markdown
else:
    st.write("No checkpoint chosen yet.")
if not rater.is_admin:
    st.caption("Only admins can record the chosen checkpoint.")
steps = {p.checkpoint_id: p.step for p in points}
default = list(steps).index(recommendation.checkpoint_id) if recommendation else 0
with st.form("checkpoints.decide"):
    chosen = st.selectbox("Checkpoint to stop at", list(steps), index=default, format_func=lambda c: f"step {steps[c]}",
                          key="checkpoints.choice")
    reason = st.text_input("Reason", key="checkpoints.reason",
                           placeholder="e.g. earliest within one SE of the best; generality still high")
    decide = st.form_submit_button("Choose this checkpoint", type="primary")
if decide:
    try:
        with shared.writing() as session:
            add_decision(session, rater.id, chosen, reason)
    except EmojichError as exc:
        st.error(f"Not recorded: {escape_markdown(str(exc))}")
    else:
        shared.flash(f"Recorded: stop at step {steps[chosen]}.")
        st.rerun()
