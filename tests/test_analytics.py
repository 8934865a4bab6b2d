"""Pure workbench logic: intervals, agreement, Bradley–Terry, the stopping rule, mask edits."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from workbench.app import mask_edit
from workbench.app.analytics.agreement import agreement_warning, ordinal_alpha, value_count_matrix
from workbench.app.analytics.bradley_terry import ranking
from workbench.app.analytics.scores import interval_from_moments
from workbench.app.analytics.stopping_rule import CheckpointPoint, recommend, trade_off_flags


def _interval(values):
    values = np.asarray(values, float)
    return interval_from_moments(len(values), values.mean(), (values**2).mean())


def test_interval_from_moments_matches_scipy():
    values = [1, 2, 2, 3, 4, 5, 5, 4, 3]
    iv = _interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert iv.low == pytest.approx(low) and iv.high == pytest.approx(high)
    assert iv.sd == pytest.approx(np.std(values, ddof=1))


def test_interval_single_rating_is_unbounded_and_empty_is_an_error():
    assert math.isinf(interval_from_moments(1, 3.0, 9.0).se)
    with pytest.raises(ValueError):
        interval_from_moments(0, 0.0, 0.0)


def test_alpha_perfect_agreement_is_one_and_disagreement_low():
    agree = [(unit, score, 3) for unit, score in enumerate([1, 2, 3, 4, 5, 3])]
    assert ordinal_alpha(agree) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = [(u, int(v), 1) for u in range(200) for v in rng.integers(1, 6, 3)]
    alpha = ordinal_alpha(noise)
    assert alpha is not None and abs(alpha) < 0.15
    assert "low agreement" in agreement_warning(alpha)
    assert agreement_warning(0.8) is None


def test_alpha_matches_reliability_data_form():
    import krippendorff

    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5], [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5]])
    rows = [(u, int(v), 1) for r in data for u, v in enumerate(r) if not np.isnan(v)]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert ordinal_alpha(rows) == pytest.approx(expected)
    assert value_count_matrix(rows).sum() == np.count_nonzero(~np.isnan(data))


def test_alpha_undefined_without_overlap():
    assert ordinal_alpha([(1, 3, 1), (2, 4, 1)]) is None
    assert "not enough" in agreement_warning(None)


def test_bradley_terry_orders_by_wins_with_intervals():
    outcomes = [(10, 20, "a", 30), (10, 20, "b", 10), (20, 30, "a", 25), (20, 30, "b", 15), (10, 30, "a", 35),
                (10, 30, "b", 5), (10, 20, "tie", 4)]
    ranked = ranking([10, 20, 30], outcomes)
    assert [s.item for s in ranked] == [10, 20, 30]
    for s in ranked:
        assert s.low < s.strength < s.high
    assert sum(s.strength for s in ranked) == pytest.approx(0.0, abs=1e-9)
    assert ranked[0].games == 30 + 10 + 35 + 5 + 4


def test_bradley_terry_unjudged_item_stays_uncertain():
    ranked = {s.item: s for s in ranking([1, 2, 3], [(1, 2, "a", 20)])}
    assert ranked[3].high - ranked[3].low > ranked[1].high - ranked[1].low


def _point(step, combined, generality, style, se=0.05):
    def iv(mean):
        return interval_from_moments(400, mean, mean * mean + (se * 20) ** 2)

    return CheckpointPoint(step, step, iv(combined), {"generality": iv(generality), "emoji_style": iv(style), "quality": iv(3.0)})


def test_stopping_rule_picks_earliest_within_one_se_of_best():
    points = [_point(0, 2.5, 4.2, 1.5), _point(6000, 3.9, 4.18, 3.5), _point(12000, 4.18, 4.15, 4.3),
              _point(18000, 4.2, 4.15, 4.4), _point(60000, 3.6, 3.0, 4.5)]
    rec = recommend(points)
    assert rec.best_step == 18000
    assert rec.step == 12000  # 4.18 ≥ 4.2 − 0.05
    assert rec.threshold == pytest.approx(4.2 - points[3].combined.se)
    assert "step 12000" in rec.explain()
    assert [f.step for f in rec.flags] == [60000]
    assert "generality fell" in rec.flags[0].describe()


def test_stopping_rule_needs_finite_errors_and_no_flag_when_style_falls_too():
    single = interval_from_moments(1, 4.0, 16.0)
    assert recommend([CheckpointPoint(1, 0, single, {"generality": single, "emoji_style": single})]) is None
    assert trade_off_flags([_point(0, 4, 4.0, 4.0), _point(6000, 3, 3.0, 3.5)]) == ()


def test_stopping_rule_with_no_checkpoint_one_checkpoint_and_a_single_rated_sample():
    assert recommend([]) is None
    only = recommend([_point(6000, 3.5, 4.0, 3.0)])
    assert (only.step, only.best_step, only.flags) == (6000, 6000, ())
    assert "best itself" in only.explain()
    single = interval_from_moments(1, 5.0, 25.0)  # one rated sample: infinite SE, left out, even with a top mean
    lucky = CheckpointPoint(99, 12000, single, {"generality": single, "emoji_style": single, "quality": single})
    assert recommend([_point(6000, 3.5, 4.0, 3.0), lucky]).best_step == 6000


# --- mask edits ------------------------------------------------------------------------------

def _picture():
    rgb = np.full((32, 32, 3), 255, np.uint8)
    rgb[8:24, 8:24] = (240, 180, 0)  # a yellow square
    rgb[2:6, 2:6] = (0, 0, 200)  # a blue speck
    return rgb


def test_click_adds_and_removes_the_connected_region():
    rgb = _picture()
    mask = np.zeros((32, 32), np.uint8)
    added = mask_edit.click_edit(mask, rgb, 10, 10, "add")
    assert added[8:24, 8:24].all() and added.sum() == 16 * 16 * 255
    removed = mask_edit.click_edit(added, rgb, 12, 20, "toggle")  # on foreground → remove
    assert not removed.any()
    speck = mask_edit.click_edit(added, rgb, 3, 3, "toggle")  # on background → add the speck only
    assert speck[2:6, 2:6].all() and speck[8:24, 8:24].all() and speck[0:2].sum() == 0
    assert mask.sum() == 0  # inputs are not modified
    with pytest.raises(ValueError):
        mask_edit.click_edit(mask, rgb, 40, 3)
    with pytest.raises(ValueError):
        mask_edit.click_edit(mask, rgb, 3, 3, "paint")


def test_click_tolerance_joins_similar_colours():
    rgb = _picture()
    rgb[8:24, 16:24] = (230, 170, 10)  # a slightly different half
    narrow = mask_edit.colour_region(rgb, 10, 10, tolerance=5)
    wide = mask_edit.colour_region(rgb, 10, 10, tolerance=24)
    assert narrow.sum() == 16 * 8 and wide.sum() == 16 * 16


def test_scale_point_maps_display_to_pixels_and_clamps():
    assert mask_edit.scale_point(100, 50, (320, 320), (64, 64)) == (20, 10)
    assert mask_edit.scale_point(400, -5, (320, 320), (64, 64)) == (63, 0)


def test_brush_strokes_from_canvas_json_add_and_remove():
    canvas = {"objects": [{"type": "path", "strokeWidth": 20, "path": [["M", 40, 40], ["Q", 80, 40, 120, 40], ["L", 160, 40]]}]}
    painted = mask_edit.strokes_from_canvas(canvas, (320, 320), (64, 64))
    assert painted.shape == (64, 64)
    assert painted[8, 8:32].all()  # the stroke runs along y = 40/5 = 8 from x = 8 to 32
    assert not painted[30:].any()
    full = np.full((64, 64), 255, np.uint8)
    assert (mask_edit.brush_edit(full, painted, "remove") == 0).sum() == painted.sum()
    assert mask_edit.brush_edit(np.zeros((64, 64), np.uint8), painted, "add").astype(bool).sum() == painted.sum()
    assert not mask_edit.strokes_from_canvas(None, (320, 320), (64, 64)).any()
    assert not mask_edit.strokes_from_canvas({"objects": [{"type": "rect"}]}, (320, 320), (64, 64)).any()
    with pytest.raises(ValueError):
        mask_edit.brush_edit(full, painted, "toggle")


def test_previews_overlay_and_checkerboard():
    rgb = _picture()
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    over = np.asarray(mask_edit.overlay(rgb, mask))
    assert tuple(over[16, 16]) == (240, 180, 0)  # foreground untouched inside the outline
    assert tuple(over[0, 0]) != (255, 255, 255)  # background tinted
    board = np.asarray(mask_edit.on_checkerboard(rgb, mask, cell=4))
    assert tuple(board[16, 16]) == (240, 180, 0)
    assert tuple(board[0, 0]) == (235, 235, 235) and tuple(board[0, 4]) == (190, 190, 190)
    rgba = mask_edit.to_rgba(rgb, mask)
    assert rgba.mode == "RGBA" and rgba.getpixel((0, 0))[3] == 0 and rgba.getpixel((16, 16))[3] == 255


def test_bradley_terry_intervals_match_a_bootstrap_scale():
    # 4 items, 30 games per pair, true log-strengths spaced by 0.5: SEs should be a few tenths,
    # not the regulariser's scale (the shift direction carries no information).
    rng = np.random.default_rng(0)
    true = np.array([0.75, 0.25, -0.25, -0.75])
    outcomes = []
    for i in range(4):
        for j in range(i + 1, 4):
            wins = int(rng.binomial(30, 1 / (1 + np.exp(true[j] - true[i]))))
            outcomes += [(i, j, "a", wins), (i, j, "b", 30 - wins)]
    ranked = ranking([0, 1, 2, 3], outcomes)
    half_widths = [(s.high - s.low) / 2 for s in ranked]
    assert all(0.2 < h < 0.8 for h in half_widths), half_widths
    assert [s.item for s in ranked][0] == 0 and [s.item for s in ranked][-1] == 3
