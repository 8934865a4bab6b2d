"""Self-reranking (`emojich generate --keep K`): sample N, keep the K lowest-perplexity candidates, decode
only those, store them as samples of the checkpoint under the free-text prompt set."""
from __future__ import annotations

from sqlalchemy import func, select

from db.candidates import FREE_TEXT_SET
from db.engine import read_session, write_session
from db.models import Prompt, PromptSet, Sample
from workbench.cli import main

PROMPT = "ежик в голубой шапке"


def _bundle(path, home):
    from training.dalle.checkpoint import bundle_from_checkpoint

    return bundle_from_checkpoint(path, home)[0]


def test_candidates_are_the_k_lowest_perplexities_decoded_alone(tiny_checkpoint_file, tmp_path, monkeypatch):
    from training.dalle import candidates as module
    from training.dalle.prompts import encode_prompts
    from training.dalle.sampler import SamplingParams, decode_images, sample_codes

    bundle = _bundle(tiny_checkpoint_file, tmp_path)
    params = SamplingParams(top_k=32, top_p=0.95, temperature=1.0, batch_size=4)
    seeds = list(range(100, 110))
    decoded = []
    real_decode = module.decode_images
    monkeypatch.setattr(module, "decode_images", lambda vae, codes: decoded.append(len(codes)) or real_decode(vae, codes))
    shares = []
    batch = module.generate_candidates(bundle, PROMPT, seeds, params, keep=3, on_progress=shares.append)
    assert decoded == [3]  # only the kept candidates reach the VAE

    ids = encode_prompts(bundle.tokenizer, [PROMPT] * len(seeds), bundle.text_seq_length)
    codes, ppl = sample_codes(bundle.model, ids, seeds, params)
    order = sorted(range(len(seeds)), key=lambda i: ppl[i].item())[:3]
    assert [c.seed for c in batch.candidates] == [seeds[i] for i in order]
    assert [c.rank for c in batch.candidates] == [0, 1, 2]
    assert [c.perplexity for c in batch.candidates] == [ppl[i].item() for i in order]
    assert all(a.perplexity <= b.perplexity for a, b in zip(batch.candidates, batch.candidates[1:], strict=False))
    expected = decode_images(bundle.vae, codes[order])
    assert [c.image.tobytes() for c in batch.candidates] == [im.tobytes() for im in expected]
    assert batch.sampled == 10 and shares[-1] == 1.0 and shares == sorted(shares)


def test_rank_ties_keep_seed_order_and_nan_goes_last():
    from training.dalle.candidates import rank_by_perplexity

    assert rank_by_perplexity([2.0, float("nan"), 1.0, 2.0], [9, 8, 7, 3]) == [2, 3, 0, 1]


def _samples(engine):
    with read_session(engine) as s:
        return s.execute(
            select(Sample.seed, Sample.perplexity, Sample.top_k, Sample.top_p, Sample.temperature, Prompt.text,
                   PromptSet.name, Sample.checkpoint_id)
            .join(Prompt, Prompt.id == Sample.prompt_id).join(PromptSet, PromptSet.id == Prompt.set_id)
            .order_by(Sample.perplexity)
        ).all()


def test_cli_keep_stores_the_best_as_samples_and_writes_files(home, engine, released_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    ckpt = str(released_checkpoint.checkpoint_id)
    args = ["generate", "--checkpoint", ckpt, "--prompt", PROMPT, "-n", "8", "--keep", "3", "--top-k", "32",
            "--seed", "5", "--out", str(out)]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "sampled 8, kept the 3 with the lowest perplexity" in said and "prompt set free-text" in said
    rows = _samples(engine)
    assert len(rows) == 3
    assert {r.name for r in rows} == {FREE_TEXT_SET} and {r.text for r in rows} == {PROMPT}
    assert {(r.top_k, r.top_p, r.temperature) for r in rows} == {(32, 0.995, 1.0)}
    assert all(5 <= r.seed < 13 and r.perplexity > 1 for r in rows)
    assert {r.checkpoint_id for r in rows} == {released_checkpoint.checkpoint_id}
    files = sorted(p.name for p in out.glob("*.png"))
    assert files == [f"rank{i + 1:03d}_seed{r.seed}_ppl{r.perplexity:.2f}.png" for i, r in enumerate(rows)]

    # The same seeds and settings again: the same samples, no new rows; the file path finds the same checkpoint.
    assert main([*args[:2], str(released_checkpoint.path), *args[3:-2]]) == 0
    assert len(_samples(engine)) == 3
    # A second prompt joins the same prompt set; other settings for stored seeds are refused in one line.
    assert main(["generate", "--checkpoint", ckpt, "--prompt", "кот", "-n", "2", "--keep", "1"]) == 0
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(PromptSet).where(PromptSet.name == FREE_TEXT_SET)) == 1
        assert sorted(s.scalars(select(Prompt.text).join(PromptSet).where(PromptSet.name == FREE_TEXT_SET))) == \
            ["ежик в голубой шапке", "кот"]
    capsys.readouterr()
    assert main([*args[:-2], "--top-k", "16"]) == 1
    err = capsys.readouterr().err
    assert "already stored for checkpoint" in err and err.count("\n") == 1
    assert main([*args[:5], "-n", "2", "--keep", "3"]) != 0  # keep > n


def test_cli_file_unknown_to_the_database_needs_out(home, tiny_checkpoint_file, tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tiny_checkpoint_file), "--prompt", PROMPT, "-n", "2"]) == 1
    assert "give --out" in capsys.readouterr().err
    out = tmp_path / "files"
    assert main(["generate", "--checkpoint", str(tiny_checkpoint_file), "--prompt", PROMPT, "-n", "4", "--keep", "2",
                 "--out", str(out)]) == 0
    assert "not stored" in capsys.readouterr().out and len(list(out.glob("rank*.png"))) == 2


def test_candidates_join_the_pseudo_label_pool_but_not_checkpoint_scores(engine, released_checkpoint, home):
    from db.raters import add_rater
    from db.ratings import Scores, save_rating
    from db.scores import checkpoint_scores
    from db.segmentation import list_undecided_samples

    assert main(["generate", "--checkpoint", str(released_checkpoint.checkpoint_id), "--prompt", PROMPT, "-n", "4",
                 "--keep", "2"]) == 0
    with read_session(engine) as s:
        candidate_ids = s.scalars(select(Sample.id)).all()
        assert sorted(i for i, _ in list_undecided_samples(s)) == sorted(candidate_ids)
    with write_session(engine) as s:
        rater, _ = add_rater(s, "judge")
        for sample_id in candidate_ids:
            save_rating(s, rater.id, sample_id, Scores(5, 5, 5))
    with read_session(engine) as s:
        assert checkpoint_scores(s, released_checkpoint.run_id) == []  # candidates never move the stopping rule


def test_rerank_caption_without_a_captioner_is_one_line(home, released_checkpoint, capsys):
    base = ["generate", "--checkpoint", str(released_checkpoint.checkpoint_id), "--prompt", PROMPT, "-n", "2"]
    assert main([*base, "--rerank", "caption"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: no captioner for checkpoint {released_checkpoint.checkpoint_id}")
    assert "emojich captioner train" in err[0]
    assert main([*base, "--rerank", "beauty"]) == 2
    assert "perplexity or caption" in capsys.readouterr().err
