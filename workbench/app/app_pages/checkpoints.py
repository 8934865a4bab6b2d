"""Checkpoints, the decision view (admins only): coverage against the rating design and the
recommended stopping checkpoint on top (held back, with the reason, until coverage and overlap
reach the design's minimums), one small chart per criterion with the recommended and the chosen
checkpoint marked, grid scores beside the per-image means, agreement, the admin's decision; then
the design itself (overlap, target raters, queue policy), reference examples, loss and LR, one
prompt across checkpoints and the ratings export."""
from __future__ import annotations

import csv
import io

import altair as alt
import pandas as pd
import streamlit as st

from db.checkpoints import prompt_across_checkpoints, run_prompts
from db.decisions import add_decision, latest_decision
from db.errors import EmojichError
from db.grid_ratings import grid_summary
from db.models import QUEUE_POLICIES
from db.rating_design import get_design, open_for_rating, rating_run_id, save_design
from db.ratings import EXPORT_COLUMNS, iter_ratings_for_export
from db.reference_examples import add_example, list_examples, remove_example
from db.runs import metric_series
from db.samples import get_checkpoint
from db.scores import CRITERIA, checkpoint_scores, coincidences, ratings_per_rater
from workbench.app import run_summary
from workbench.app.analytics.agreement import (
    agreement_warning,
    ordinal_alpha_from_coincidences,
    ordinal_alpha_from_counts,
)
from workbench.app.analytics.stopping_rule import RULE, checkpoint_points, recommend
from workbench.app.app_pages import automatic_scores_section, shared
from workbench.app.plain_text import escape_markdown

NAMES = {"generality": "generality", "emoji_style": "emoji style", "quality": "quality", "combined": "combined"}
COLOURS = {"generality": "#1f77b4", "emoji_style": "#ff7f0e", "quality": "#2ca02c", "combined": "#444444"}

scores_query = shared.query(checkpoint_scores)
per_rater_query = shared.query(ratings_per_rater)
metrics_query = shared.query(metric_series)
coverage_query = shared.query(run_summary.coverage)
held_query = shared.query(run_summary.held_back)
with_without_query = shared.query(run_summary.recommendation_with_and_without)
grid_query = shared.query(grid_summary)
design_query = shared.query(get_design)
open_run_query = shared.query(rating_run_id)
examples_query = shared.query(list_examples)


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

    return d.checkpoint_id, get_checkpoint(session, d.checkpoint_id).step, get_rater(session, d.rater_id).name, d.reason, d.created_at


decision_query = shared.query(_decision)


def export_csv(admin_id: int, run_id: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    with shared.reading() as session:
        writer.writerows(iter_ratings_for_export(session, admin_id, run_id))
    return out.getvalue()


def criterion_chart(frame: pd.DataFrame, grid: pd.DataFrame, marks: pd.DataFrame, criterion: str) -> alt.LayerChart:
    """Per-image mean and 95 % interval against iteration, grid means as diamonds, and labelled
    rules at the recommended and the chosen step."""
    part = frame[frame["criterion"] == criterion]
    colour = COLOURS[criterion]
    x = alt.X("step:Q", title="iteration", axis=alt.Axis(format=",d"))
    y_scale = alt.Scale(domain=[1, 5])
    layers = [
        alt.Chart(part).mark_area(opacity=0.15, color=colour).encode(x=x, y=alt.Y("low:Q", title="score", scale=y_scale), y2="high:Q"),
        alt.Chart(part).mark_line(point=True, color=colour).encode(
            x=x, y="mean:Q", tooltip=["step", alt.Tooltip("mean:Q", format=".2f"), alt.Tooltip("low:Q", format=".2f"),
                                      alt.Tooltip("high:Q", format=".2f"), "samples"]),
    ]
    if not grid.empty and criterion in grid:
        layers.append(alt.Chart(grid).mark_point(shape="diamond", size=70, filled=True, color="black").encode(
            x=x, y=alt.Y(f"{criterion}:Q", scale=y_scale), tooltip=["step", alt.Tooltip(f"{criterion}:Q", format=".2f"), "raters"]))
    if not marks.empty:
        dash = alt.condition(alt.datum.label == "recommended", alt.value([5, 4]), alt.value([1, 0]))
        layers.append(alt.Chart(marks).mark_rule(color="#888").encode(x="step:Q", strokeDash=dash))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=-4, fontSize=11, color="#555").encode(
            x="step:Q", y=alt.Y("y:Q", scale=y_scale), text="label:N"))
    return alt.layer(*layers).properties(title=NAMES[criterion], height=200)


rater = shared.require_admin()
run_id = shared.require_run()
st.title("Checkpoints")
design = design_query(run_id)
coverage = coverage_query(run_id)
hold = held_query(run_id)
rows = scores_query(run_id)
points = checkpoint_points(rows)
recommendation = recommend(points) if hold.show_recommendation else None
current = decision_query(run_id)

# --- on top: coverage and the recommendation ----------------------------------------------------
total = sum(c.samples for c in coverage.checkpoints)
rated = sum(c.rated for c in coverage.checkpoints)
per_sample = coverage.raters_per_sample
m1, m2, m3, m4 = st.columns(4)
m1.metric("Rated images", f"{rated} / {total}")
m2.metric("Overlap set", f"{coverage.overlap_size} images", f"{coverage.overlap_done} rater(s) finished it", delta_color="off")
m3.metric("Raters per image", f"{min((n for n, k in per_sample.items() if k), default=0)}–{max(per_sample, default=0)}",
          f"target {design.target_raters}", delta_color="off")
m4.metric("Queue", design.queue, "open for rating" if open_run_query() == run_id else "not the rated run", delta_color="off")

st.subheader("Recommended stopping checkpoint")
if not hold.show_recommendation:
    st.warning(f"Held back: {hold.recommendation_reason}.")
elif recommendation is None:
    st.info("Each checkpoint needs at least two rated images before the rule can be applied.")
else:
    st.success(f"**Step {recommendation.step}** — {recommendation.explain()}")
    for flag in recommendation.flags:
        st.warning(f"⚠ Trade-off at {flag.describe()}.")
    both = with_without_query(run_id)
    if both.flagged and both.without_flagged is not None:
        same = both.without_flagged.checkpoint_id == recommendation.checkpoint_id
        st.caption(f"Without the flagged rater(s) {', '.join(both.flagged)}: step {both.without_flagged.step}"
                   + (" (the same)." if same else " — it changes: see the Raters page."))
st.caption(f"Rule: {RULE} Shown once at least {design.min_overlap_raters} raters finished the overlap set and every "
           f"checkpoint has at least {design.min_rated_per_checkpoint} rated images.")

cover = pd.DataFrame([{
    "step": c.step, "rated images": f"{c.rated} / {c.samples}", "ratings": c.ratings,
    "raters per image": round(c.ratings / c.rated, 2) if c.rated else 0.0, "grid raters": c.grid_raters,
    "artifact flags": c.flagged,
} for c in coverage.checkpoints])
with st.expander("Coverage per checkpoint", expanded=not hold.show_recommendation):
    st.dataframe(cover, hide_index=True)
    st.caption("Images by number of raters: " + ", ".join(f"{n} rater(s): {k}" for n, k in per_sample.items()))

# --- one small chart per criterion --------------------------------------------------------------
table = []
for point in points:
    for name, iv in (*point.criteria.items(), ("combined", point.combined)):
        # drawn within the 1–5 scale: one rated sample has an unbounded interval, a few can overshoot
        table.append({"step": point.step, "criterion": name, "mean": iv.mean, "low": max(iv.low, 1.0),
                      "high": min(iv.high, 5.0), "samples": iv.n})
frame = pd.DataFrame(table, columns=["step", "criterion", "mean", "low", "high", "samples"])
grids = grid_query(run_id)
grid_frame = pd.DataFrame([{"step": g.step, "raters": g.raters, **g.means} for g in grids])
marks = []
if recommendation is not None:
    marks.append({"step": recommendation.step, "label": "recommended", "y": 1.4})
if current:
    marks.append({"step": current[1], "label": "chosen", "y": 1.15})
marks = pd.DataFrame(marks, columns=["step", "label", "y"])
st.subheader("Scores against iteration")
st.caption("Per-image means (each image's scores averaged over its raters) with 95 % intervals over images; "
           "◆ the mean of the whole-grid scores. Dashed: recommended; solid: chosen.")
if frame.empty:
    st.info("No per-image ratings for this run yet.")
else:
    for column, criterion in zip(st.columns(4), (*CRITERIA, "combined"), strict=True):
        column.altair_chart(criterion_chart(frame, grid_frame, marks, criterion), width="stretch")
automatic_scores_section.render(run_id, rater)  # admins: caption loss and perplexity against the ratings

# --- agreement and grid scores ------------------------------------------------------------------
st.subheader("Agreement between raters (Krippendorff's α, ordinal)")
if not hold.show_alpha:
    st.warning(f"Held back: {hold.alpha_reason}.")
else:
    alphas = alphas_query(run_id)
    for column, criterion in zip(st.columns(len(CRITERIA)), CRITERIA, strict=True):
        alpha = alphas[criterion]
        column.metric(f"per image · {NAMES[criterion]}", "–" if alpha is None else f"{alpha:.2f}")
        warning = agreement_warning(alpha)
        if warning:
            column.warning(warning)
if grids:
    grid_alpha = {c: ordinal_alpha_from_counts([g.counts[c] for g in grids]) for c in CRITERIA}
    for column, criterion in zip(st.columns(len(CRITERIA)), CRITERIA, strict=True):
        alpha = grid_alpha[criterion]
        column.metric(f"whole grid · {NAMES[criterion]}", "–" if alpha is None else f"{alpha:.2f}")
    side = pd.DataFrame([{
        "step": p.step, **{f"image {NAMES[c]}": round(p.criteria[c].mean, 2) for c in CRITERIA},
        **{f"grid {NAMES[c]}": next((round(g.means[c], 2) for g in grids if g.checkpoint_id == p.checkpoint_id), None)
           for c in CRITERIA},
        "grid raters": next((g.raters for g in grids if g.checkpoint_id == p.checkpoint_id), 0),
    } for p in points])
    st.dataframe(side, hide_index=True)
else:
    st.caption("No whole-grid scores yet (raters score a grid on the Grid page).")

# --- the decision -------------------------------------------------------------------------------
st.subheader("Decision")
if current:
    _, step, who, reason, when = current
    st.markdown(f"Chosen: **step {step}**")
    st.text(f"by {who} on {when:%Y-%m-%d %H:%M} — {reason}")  # a name and a reason are text, never markdown
else:
    st.write("No checkpoint chosen yet.")
steps = {p.checkpoint_id: p.step for p in points}
if steps:
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

# --- the rating design --------------------------------------------------------------------------
st.subheader("Rating design")
st.caption("Every rater first scores the overlap set (spread over all checkpoints and prompts); every other image "
           "then goes to raters until it has the target number, in a seeded random order per rater with no two "
           "images in a row from the same checkpoint or prompt. Adaptive: after the overlap, images from the "
           "checkpoints that can still change the recommendation come first.")
with st.form("checkpoints.design"):
    d1, d2, d3 = st.columns(3)
    queue = d1.radio("Queue", QUEUE_POLICIES, index=QUEUE_POLICIES.index(design.queue), horizontal=True, key="design.queue")
    share = d2.slider("Overlap share", 0.0, 0.5, float(design.overlap_share), 0.05, key="design.share")
    target = d3.number_input("Target raters per image", 1, 20, design.target_raters, key="design.target")
    d4, d5, d6 = st.columns(3)
    repeats = d4.number_input("Silent repeats per rater", 0, 50, design.repeats, key="design.repeats")
    min_overlap = d5.number_input("Raters through the overlap before α", 2, 50, design.min_overlap_raters, key="design.min_overlap")
    min_rated = d6.number_input("Rated images per checkpoint before a recommendation", 2, 1000,
                                design.min_rated_per_checkpoint, key="design.min_rated")
    save = st.form_submit_button("Save design")
if save:
    try:
        with shared.writing() as session:
            save_design(session, rater.id, run_id, queue=queue, overlap_share=float(share), target_raters=int(target),
                        repeats=int(repeats), min_overlap_raters=int(min_overlap), min_rated_per_checkpoint=int(min_rated))
    except EmojichError as exc:
        st.error(f"Not saved: {exc}")
    else:
        shared.flash("Rating design saved.")
        st.rerun()
if open_run_query() != run_id and st.button("Open this run for rating", key="design.open"):
    with shared.writing() as session:
        open_for_rating(session, rater.id, run_id)
    shared.flash("Raters now rate this run.")
    st.rerun()

# --- reference examples -------------------------------------------------------------------------
st.subheader("Reference examples (what a 1 and a 5 look like)")
prompts = prompts_query(run_id)
examples = examples_query()
if examples:
    for start in range(0, len(examples), 8):
        for example, column in zip(examples[start : start + 8], st.columns(8), strict=False):
            column.image(shared.image_at(example.image_sha256, 96), caption=f"{NAMES[example.criterion]} · {example.level}",
                         width="stretch", output_format="PNG")
            if column.button("remove", key=f"examples.remove.{example.id}"):
                with shared.writing() as session:
                    remove_example(session, rater.id, example.id)
                st.rerun()
if prompts and steps:
    texts = dict(prompts)
    e1, e2, e3, e4 = st.columns(4)
    criterion = e1.selectbox("Criterion", CRITERIA, format_func=NAMES.get, key="examples.criterion")
    level = e2.radio("Level", [1, 5], horizontal=True, key="examples.level")
    step_of = {p.checkpoint_id: p.step for p in points} or steps
    example_checkpoint = e3.selectbox("Step", list(step_of), format_func=lambda c: f"step {step_of[c]}", key="examples.checkpoint")
    example_prompt = e4.selectbox("Prompt", list(texts), format_func=texts.get, key="examples.prompt")
    tile = next((t for t in figure4_query(run_id, example_prompt) if t.checkpoint_id == example_checkpoint), None)
    if tile is not None:
        st.image(shared.image_at(tile.image_sha256, 128), width=128, output_format="PNG")
        if st.button("Use as example", key="examples.add"):
            with shared.writing() as session:
                add_example(session, rater.id, criterion, level, tile.sample_id)
            shared.flash(f"Raters now see this image as a {level} for {NAMES[criterion]}.")
            st.rerun()

# --- training curves, one prompt across checkpoints, counts, export ----------------------------
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

st.subheader("One prompt across all checkpoints")
if prompts:
    texts = dict(prompts)
    prompt_id = st.selectbox("Prompt", list(texts), format_func=texts.get, key="checkpoints.prompt")
    tiles = figure4_query(run_id, prompt_id)
    per_row = 8
    for start in range(0, len(tiles), per_row):
        for tile, column in zip(tiles[start : start + per_row], st.columns(per_row), strict=False):
            column.image(shared.image_at(tile.image_sha256, 128), caption=f"step {tile.step}", width="stretch",
                         output_format="PNG")

st.subheader("Ratings")
if rows:
    counts = pd.DataFrame([{"step": r.step, "ratings": r.ratings, "samples rated": r.samples} for r in rows])
    left, right = st.columns(2)
    left.dataframe(counts, hide_index=True)
    right.dataframe(pd.DataFrame(per_rater_query(run_id), columns=["rater", "ratings"]), hide_index=True)
st.download_button("Export ratings as CSV", data=lambda: export_csv(rater.id, run_id), file_name=f"ratings-run{run_id}.csv",
                   mime="text/csv", key="checkpoints.export")
