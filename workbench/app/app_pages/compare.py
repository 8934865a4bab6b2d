"""Compare: two images of the same prompt, sides shuffled; ← / → / T to judge. Blind: the images
come under per-view names and nothing says which checkpoint either is from. Below, for admins,
checkpoints ranked by Bradley–Terry with 95 % intervals."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from db.checkpoints import checkpoint_steps
from db.comparisons import (
    PairView,
    count_comparisons,
    list_outcomes,
    next_pair_view,
    save_comparison,
)
from db.errors import EmojichError, SampleNotFound
from workbench.app.analytics.bradley_terry import ranking
from workbench.app.app_pages import shared
from workbench.app.plain_text import prompt_heading

outcomes_query = shared.query(list_outcomes)
steps_query = shared.query(checkpoint_steps)
count_query = shared.query(count_comparisons)

S = st.session_state


def on_judge(pair: PairView, choice: str) -> None:
    if S.get("compare.pair") != pair:
        shared.flash("That key press arrived after the pair had changed, so it was ignored.", "warning")
        return
    try:
        with shared.writing() as session:
            save_comparison(session, shared.rater().id, pair.left_id, pair.right_id, choice)
    except SampleNotFound as exc:
        shared.flash(f"{exc}. Here is another pair.", "warning")
    except EmojichError as exc:
        shared.report(exc)
        return
    else:
        shared.flash({"left": "Left wins.", "right": "Right wins.", "tie": "Tie."}[choice] + " Saved.")
    S.pop("compare.pair", None)


rater = shared.rater()
run_id = shared.require_rating_run()
st.title("Compare")
st.caption(f"Which is the better emoji for the prompt? Keys: **←** left · **→** right · **T** tie. "
           f"You have judged {count_query(rater.id)} pair(s).")

pair: PairView | None = S.get("compare.pair")
if pair is None or S.get("compare.run") != run_id:
    with shared.reading() as session:
        pair = next_pair_view(session, rater.id, run_id)
    S["compare.pair"], S["compare.run"], S["compare.view"] = pair, run_id, shared.view_token()
if pair is None:
    st.info("No pair left to judge in this run (it needs at least two checkpoints with the same prompts and seeds).")
else:
    prompt_heading(pair.prompt)
    left, right = st.columns(2, gap="large")
    view = S["compare.view"]
    left.image(shared.blind_image(pair.left_sha256, 384, f"{view}.l"), width=384, output_format="PNG")
    right.image(shared.blind_image(pair.right_sha256, 384, f"{view}.r"), width=384, output_format="PNG")
    b1, b2, b3 = st.columns(3)
    b1.button("◀ Left is better", key="compare.left", shortcut="Left", on_click=on_judge, args=(pair, "left"), width="stretch")
    b2.button("Tie", key="compare.tie", shortcut="T", on_click=on_judge, args=(pair, "tie"), width="stretch")
    b3.button("Right is better ▶", key="compare.right", shortcut="Right", on_click=on_judge, args=(pair, "right"), width="stretch")

if not rater.is_admin:
    st.stop()  # the ranking names steps: it is for admins
st.divider()
st.subheader("Bradley–Terry ranking of checkpoints")
steps = dict(steps_query(run_id))
outcomes = outcomes_query(run_id)
if not outcomes:
    st.info("No judgements yet in this run.")
    st.stop()
strengths = ranking(list(steps), [(o.checkpoint_a, o.checkpoint_b, o.winner, o.count) for o in outcomes])
table = pd.DataFrame(
    [{"rank": i + 1, "step": steps[s.item], "strength": s.strength, "low": s.low, "high": s.high,
      "wins": s.wins, "judgements": s.games} for i, s in enumerate(strengths)]
)
st.caption(f"{sum(o.count for o in outcomes)} judgements. Strength is the log-odds scale (0 = average); "
           "the bars are 95 % intervals. Ties count half a win for each side.")
base = alt.Chart(table).encode(x=alt.X("step:Q", title="iteration"))
chart = base.mark_rule().encode(y=alt.Y("low:Q", title="Bradley–Terry strength"), y2="high:Q") + base.mark_point(
    filled=True, size=60).encode(y="strength:Q", tooltip=["step", "strength", "low", "high", "judgements"])
st.altair_chart(chart, width="stretch")
st.dataframe(table, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.2f") for c in ("strength", "low", "high", "wins")})
