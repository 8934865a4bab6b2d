"""Fine-tune ruDALL-E with the Emojich recipe: one loop, read top to bottom.

Side effects (metrics, checkpoint file, 64 eval samples in one DB transaction) live in one gated block.
`train(config, home, engine, name=...)` starts a run; `train(None, home, engine, resume="RUN")`
continues a run from its last checkpoint row with the same data order, LR schedule and RNG state.
A run killed at any moment resumes cleanly: a checkpoint file whose DB row was never written, or a
half-written `.tmp`, is removed and trained again (deterministically); metrics past the resumed step
are deleted.

Under torchrun (see distributed.py) the same loop runs on every rank: each takes its shard of every
global batch (the data order is a function of the global step, so a run resumes at any world size),
DDP averages the gradients, each rank samples its share of the evaluation prompts, and rank 0 alone
writes the checkpoint file, the metrics, the run row and the 64 samples (one transaction, as before).
"""
from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm.auto import tqdm

import db.runs as runs_db
import db.samples as samples_db
from db.engine import read_session, write_session
from db.errors import EmojichError
from db.home import Home
from training.captioner.score import score_after_checkpoint
from training.config import Config, config_from_dict, config_to_dict, resolve_prompt_file
from training.dalle import checkpoint as ckpt
from training.dalle import distributed
from training.dalle.data import batch_indices, read_examples, steps_per_epoch, tokenize
from training.dalle.forward import layer_masks
from training.dalle.freeze import cast_frozen, freeze, trainable_state
from training.dalle.load import load_bundle
from training.dalle.loss import LossModule
from training.dalle.optim import make_optimizer, make_scaler, make_scheduler, optimizer_step
from training.dalle.prompts import encode_prompts, read_prompt_file
from training.dalle.sampler import SamplingParams, decode_images, sample_codes
from training.dataset.layout import dataset_dir


class RunExists(EmojichError):
    pass


def total_steps(config: Config, n_examples: int) -> int:
    planned = config.train.epochs * steps_per_epoch(n_examples, config.train.batch_size)
    return min(planned, config.train.max_steps) if config.train.max_steps else planned


def sampling_steps(config: Config, total: int) -> list[int]:
    sc = config.sampling
    steps = set(range(sc.every, total + 1, sc.every)) | {total}
    if sc.at_start:
        steps.add(0)
    return sorted(steps)


@dataclass
class RunInfo:
    run_id: int
    name: str
    step: int
    total_steps: int


def _autocast(device: torch.device, precision: str):
    if device.type != "cuda" or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def _start_or_resume(engine, config: Config | None, name: str | None, resume: str | None, home: Path):
    """(run id, run name, config, last checkpoint step or None, steps already sampled); files of the run's
    checkpoint folder that no checkpoint row points at (a kill mid-write or before the row) are removed."""
    with write_session(engine) as s:
        if resume is not None:
            run = runs_db.find_run(s, resume)
            config = config_from_dict(run.config, origin=f"run {run.name}")
            last = runs_db.latest_checkpoint(s, run.id)
            step = None if last is None else last.step
            runs_db.delete_metrics_after(s, run.id, -1 if step is None else step)
            runs_db.set_run_status(s, run.id, "running")
            checkpoints = samples_db.list_checkpoints(s, run.id)
            started = run.id, run.name, config, step, {c.step for c in checkpoints}
        else:
            name = name or f"{config.name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
            runs_db.release_failed_name(s, name)
            if runs_db.get_run_by_name(s, name) is not None:
                raise RunExists(f"a run named {name!r} exists; use --resume {name} or another --name")
            run = runs_db.add_run(s, name, config_to_dict(config), code_version=_code_version())
            checkpoints = []
            started = run.id, run.name, config, None, set()
    ckpt.clean_leftovers(ckpt.run_dir(home, started[1]), {c.path for c in checkpoints if c.path})
    return started


def _code_version() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except OSError:
        return None


def train(config: Config | None, home: Path, engine, name: str | None = None, resume: str | None = None,
          progress: bool = True, device: torch.device | None = None) -> RunInfo:
    """Run (or resume) a fine-tuning job; the runs row records running / finished / failed / interrupted."""
    if config is not None and config.model.source == "pretrained":  # fail before creating a run row
        from training.dalle.bundle import check_files
        from training.dalle.load import pretrained_files

        check_files(pretrained_files(config.model, Path(home)), f"ruDALL-E {config.model.name} weights")
    stored = config if config is not None else load_run_config(engine, resume)  # a read: every rank may
    world = distributed.setup(stored.train.device)
    if world.active and stored.train.batch_size < world.size:
        raise EmojichError(f"train.batch_size {stored.train.batch_size} is the global batch: it must be at least "
                           f"the number of processes ({world.size})")
    run_id, run_name, config, resume_step, sampled = distributed.on_main(
        world, lambda: _start_or_resume(engine, config, name, resume, Path(home)))
    try:
        info = _train(config, Path(home), engine, run_id, run_name, resume_step, sampled, progress, device, world)
        distributed.barrier(world)  # every rank has finished before the run is called finished
    except BaseException as exc:
        _record_stop(engine, world, run_id, exc)
        if distributed.is_peer_loss(world, exc):
            raise distributed.RankLost(f"another training process of run {run_name} stopped ({_first_line(exc)}); "
                                       f"run marked interrupted: emojich train --resume {run_name}") from exc
        raise
    if world.is_main:
        with write_session(engine) as s:
            runs_db.set_run_status(s, run_id, "finished")
    return info


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _record_stop(engine, world, run_id: int, exc: BaseException) -> None:
    """interrupted (Ctrl-C, SIGTERM, a lost rank) or failed (anything else). Rank 0 owns the run row; another
    rank writes only while the row still says running (rank 0 may be the process that died)."""
    interrupted = isinstance(exc, KeyboardInterrupt) or distributed.is_peer_loss(world, exc)
    status = "interrupted" if interrupted else "failed"
    error = None if interrupted else f"{type(exc).__name__}: {exc}"
    if world.active and not world.is_main:
        error = error and f"rank {world.rank}: {error}"
    try:
        with _stop_signals_deferred(), write_session(engine) as s:
            if world.is_main:
                runs_db.set_run_status(s, run_id, status, error=error)
            else:
                runs_db.end_if_running(s, run_id, status, error=error)
    except Exception:  # the original error is the one to report
        if not world.active:
            raise


@contextlib.contextmanager
def _stop_signals_deferred():
    """Hold SIGTERM / SIGINT while the final status is written: a signal that arrives then (torchrun's agent
    stopping a rank whose collective has just failed, a second Ctrl-C) is handled after the write, not in its
    middle. (A signal mask would not do: any of torch's threads may receive a process-directed signal.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: pending.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(pending[0])


def _train(config: Config, home: Path, engine, run_id: int, run_name: str, resume_step: int | None,
           sampled: set[int], progress: bool, device: torch.device | None,
           world: distributed.World = distributed.World()) -> RunInfo:
    tc, sc = config.train, config.sampling
    device = device or world.device(tc.device)
    progress = progress and world.is_main
    if device.type == "cpu" and tc.threads:
        torch.set_num_threads(tc.threads)  # fixed by the config, so results do not depend on the machine
    torch.manual_seed(tc.seed)
    bundle = load_bundle(config, home, device)
    model = bundle.model
    examples = read_examples(dataset_dir(home, config.data.dataset), config.data.image_size)
    data = tokenize(bundle, examples)
    n = len(data.text_ids)
    report = freeze(model, tc.freeze)
    if device.type == "cuda" and tc.precision != "fp32":
        cast_frozen(model, torch.bfloat16 if tc.precision == "bf16" else torch.float16)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, optimizer_name = make_optimizer(params, config, device)
    total = total_steps(config, n)
    scheduler = make_scheduler(optimizer, config, total)
    scaler = make_scaler(tc.precision, device)  # fp16 only: loss scaling, clipping after unscale
    per_epoch = steps_per_epoch(n, tc.batch_size)
    loss_fn = distributed.wrap(world, LossModule(model, tc.loss_img_weight, layer_masks(model)), device)

    prompt_texts = read_prompt_file(resolve_prompt_file(sc.prompts))
    prompt_ids = distributed.on_main(world, lambda: _prompt_ids(engine, sc.prompt_set, prompt_texts))
    prompt_tokens = encode_prompts(bundle.tokenizer, prompt_texts, bundle.text_seq_length, warn=False)
    params_sampling = SamplingParams(sc.top_k, sc.top_p, sc.temperature, sc.batch_size)
    my_prompts = distributed.my_share(world, len(prompt_ids))  # sampling is sharded too

    step = 0
    if resume_step is not None:
        state = ckpt.read_checkpoint(ckpt.checkpoint_path(home, run_name, resume_step))
        ckpt.load_weights(model, state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        ckpt.set_rng_state(state["rng"])
        step = state["step"]
    if world.is_main:
        tqdm.write(f"run {run_name}: {report}; {n} examples, {total} steps, optimizer {optimizer_name}, "
                   f"device {device}" + (f" ({torch.get_num_threads()} thread(s))" if device.type == "cpu" else "")
                   + f", {world.describe()}" + (f", resumed at step {step}" if resume_step is not None
                                                             else ""))

    sample_at = set(sampling_steps(config, total))
    full_weights = config.model.source == "tiny"
    window = {"loss": 0.0, "loss_text": 0.0, "loss_image": 0.0, "grad_norm": 0.0, "n": 0, "examples": 0,
              "seconds": 0.0, "skipped": 0}
    # One progress line: steps, with the epoch, loss and checkpoints written so far in its postfix.
    bar = tqdm(total=total, initial=step, desc="train", unit="it", disable=not progress, dynamic_ncols=True)
    epochs = math.ceil(total / per_epoch)
    try:
        while True:
            # ---- side effects, all here: checkpoint file (rank 0), each rank's share of the 64 samples,
            #      then rank 0 writes the checkpoint row + all 64 samples in one transaction
            if step in sample_at and step not in sampled:
                path = ckpt.checkpoint_path(home, run_name, step)
                if world.is_main:
                    weights = {n_: p.detach().cpu() for n_, p in model.named_parameters()} if full_weights \
                        else trainable_state(model)
                    ckpt.save_atomic({
                        "step": step, "epoch": step / per_epoch, "model": weights,
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(), "rng": ckpt.rng_state(), "config": config_to_dict(config),
                        "optimizer_name": optimizer_name,
                    }, path)
                rng = ckpt.rng_state()  # sampling must not change the training run's random stream
                bar.set_postfix_str(f"sampling {len(prompt_ids)} prompts at step {step}")
                codes, ppl = sample_codes(model, prompt_tokens[my_prompts], [sc.seed] * len(my_prompts),
                                          params_sampling)
                images = decode_images(bundle.vae, codes)
                ckpt.set_rng_state(rng)
                mine = list(zip(my_prompts, images, ppl.tolist(), strict=True))
                gathered = sorted(distributed.gather_on_main(world, mine), key=lambda item: item[0])
                if world.is_main:
                    new = [samples_db.NewSample(prompt_id=prompt_ids[i], seed=sc.seed, image=img, top_k=sc.top_k,
                                                top_p=sc.top_p, temperature=sc.temperature, perplexity=float(pp))
                           for i, img, pp in gathered]
                    samples_db.write_checkpoint_with_samples(engine, run_id, step, step / per_epoch,
                                                             Home.resolve(home).to_stored(path), new)
                sampled.add(step)
                if world.is_main:
                    score_after_checkpoint(home, engine, run_id, config, device)  # caption loss, when a captioner fits
                model.train()
            if step >= total:
                break

            # ---- one optimizer step over the global batch (this rank's shard of it)
            model.train()
            started = time.perf_counter()
            epoch, index = batch_indices(n, tc.batch_size, tc.seed, step)
            local, weight = distributed.shard(world, index)
            text_ids = data.text_ids[local].to(device)
            image_codes = data.image_codes[local].to(device)
            with _autocast(device, tc.precision):
                loss, loss_text, loss_image = loss_fn(text_ids, image_codes)
            lr = optimizer.param_groups[0]["lr"]
            # DDP averages gradients over ranks: (loss × this shard's weight) gives the global batch's mean
            grad_norm, stepped = optimizer_step(loss * weight, params, optimizer, scaler, tc.grad_clip)
            with warnings.catch_warnings():  # the schedule follows the iteration, skipped steps included
                warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step()` before")
                scheduler.step()
            step += 1
            share = weight / world.size  # this rank's part of the global mean
            logged = distributed.sum_over_ranks(world, torch.stack([loss, loss_text, loss_image]).detach() * share)
            if device.type == "cuda":
                torch.cuda.synchronize()
            window["seconds"] += time.perf_counter() - started
            window["examples"] += len(index)
            window["n"] += 1
            window["skipped"] += not stepped
            for key, value in zip(("loss", "loss_text", "loss_image"), logged.tolist(), strict=True):
                window[key] += float(value)
            if stepped:  # a skipped step's norm is inf or NaN
                window["grad_norm"] += float(grad_norm)
            bar.update(1)

            if world.is_main and (step % tc.log_every == 0 or step == total):
                k = window["n"]
                metrics = {key: window[key] / k for key in ("loss", "loss_text", "loss_image")}
                if k > window["skipped"]:
                    metrics["grad_norm"] = window["grad_norm"] / (k - window["skipped"])
                metrics["lr"] = lr
                if scaler.is_enabled():
                    metrics["loss_scale"] = scaler.get_scale()
                    metrics["skipped_steps"] = window["skipped"]
                metrics["samples_per_s"] = window["examples"] / max(window["seconds"], 1e-9)
                with write_session(engine) as s:
                    runs_db.add_metrics(s, run_id, step, metrics)
                bar.set_postfix(epoch=f"{min(step // per_epoch + 1, epochs)}/{epochs}", loss=f"{metrics['loss']:.3f}",
                                img=f"{metrics['loss_image']:.3f}", checkpoints=len(sampled), lr=f"{lr:.2e}")
            if step % tc.log_every == 0 or step == total:
                window = dict.fromkeys(window, 0.0)
                window["n"] = 0
    finally:
        bar.close()
    return RunInfo(run_id, run_name, step, total)


def _prompt_ids(engine, prompt_set_name: str, texts: list[str]) -> list[int]:
    with write_session(engine) as s:
        prompt_set = samples_db.ensure_prompt_set(s, prompt_set_name, texts)
        return [p.id for p in samples_db.list_prompts(s, prompt_set.id)]


def load_run_config(engine, key: str) -> Config:
    """The resolved config stored on a run's row (by name or id)."""
    with read_session(engine) as s:
        return config_from_dict(runs_db.find_run(s, key).config)
