"""`emojich worker`: take generation jobs from the database queue and draw them (one worker per GPU).

For each job: the checkpoint chosen when the job was queued (loaded once and kept while jobs use
it), `candidates` samples ranked by the sampler's perplexity with only the best `show` decoded
(training/dalle/candidates.py, as `emojich generate --keep`), segmented by the latest U-Net round
with its confidence gate and the contour fallback (training/segmentation, as `segment predict`),
then stored in one transaction (db/jobs.py: samples of the checkpoint, their masks, the cut-outs).

The worker holds the job through a lease that a heartbeat thread renews; progress goes to the job
row (the bot shows it). Killed, the worker simply stops renewing and another one takes the job
over once the lease expires; an error sends the job back to the queue (failed after 3 attempts).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from db.engine import read_session, write_session
from db.errors import EmojichError
from db.jobs import (
    MAX_ATTEMPTS,
    CandidateResult,
    Claim,
    LeaseLost,
    claim_job,
    complete_job,
    fail_attempt,
    renew_lease,
)

log = logging.getLogger("emojich.worker")

SEED_STRIDE = 4096  # job J samples seeds J·4096 … J·4096+N−1: distinct across jobs, the same on a retry
MAX_CANDIDATES = SEED_STRIDE
SEED_LIMIT = 2**31  # samples.seed is a 32-bit integer; past 524,288 jobs the seeds wrap around (a repeat of
# checkpoint + prompt + seed is the same sample, which is simply reused)


def job_seeds(job_id: int, n: int) -> list[int]:
    return [(job_id * SEED_STRIDE + i) % SEED_LIMIT for i in range(n)]
SAMPLING_SHARE = 0.8  # of the progress bar; decoding and segmenting the kept ones take the rest


@dataclass(frozen=True)
class WorkerSettings:
    device: str = "cpu"
    candidates: int = 32  # N sampled per request
    show: int = 4  # K decoded, segmented and shown
    batch_size: int = 16  # sampler batch
    lease_s: float = 120.0
    poll_s: float = 1.0  # wait between looks at an empty queue
    max_attempts: int = MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if not 1 <= self.candidates <= MAX_CANDIDATES:
            raise EmojichError(f"--candidates must be between 1 and {MAX_CANDIDATES}, got {self.candidates}")
        if not 1 <= self.show <= min(self.candidates, 10):
            raise EmojichError(f"--show must be between 1 and min(--candidates, 10) (an album holds 10), "
                               f"got {self.show}")
        if self.lease_s < 1:
            raise EmojichError(f"--lease must be at least 1 s, got {self.lease_s}")


def default_name(device: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{device}"


class _Lease:
    """Renews the job's lease every third of its length (and writes progress) until stopped."""

    def __init__(self, engine, claim: Claim, lease_s: float) -> None:
        self.engine, self.claim, self.lease_s = engine, claim, lease_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{claim.job_id}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def renew(self, progress: float | None = None) -> None:
        with self._lock:
            try:
                with write_session(self.engine) as s:
                    held = renew_lease(s, self.claim.job_id, self.claim.token, self.lease_s, progress)
            except Exception as exc:  # a database hiccup: the next beat tries again
                log.warning("job %s: could not renew the lease: %s", self.claim.job_id, exc)
                return
        if not held:
            self.lost.set()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"job {self.claim.job_id}: the lease expired and another worker took the job over")

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.renew()


class _Progress:
    """Sampling progress → the job row, each time it passes another tenth."""

    def __init__(self, lease: _Lease) -> None:
        self.lease, self.reported = lease, 0.0

    def __call__(self, share: float) -> None:
        value = SAMPLING_SHARE * share
        if value - self.reported >= 0.1 - 1e-9:
            self.reported = value
            self.lease.renew(value)
            self.lease.check()


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")


class Worker:
    def __init__(self, engine, home: Path, settings: WorkerSettings = WorkerSettings(), name: str | None = None,
                 say: Callable[[str], None] = print) -> None:
        self.engine, self.home, self.settings = engine, Path(home), settings
        self.name = name or default_name(settings.device)
        self.say = say
        self._bundle: tuple[str, object] | None = None
        self._segmenter: tuple[str | None, object] | None = None

    # models, loaded once and kept while the next job needs the same ones
    def _bundle_for(self, path: str | None):
        import torch

        from db.home import Home
        from training.dalle.checkpoint import bundle_from_checkpoint

        stored = path
        path = str(Home.resolve(self.home).from_stored(stored)) if stored else None  # stored relative to the home
        if not path or not Path(path).is_file():
            raise EmojichError(f"the released checkpoint's file {path or stored} is missing")
        if self._bundle is None or self._bundle[0] != path:
            self._bundle = None  # free the old model first
            bundle, _ = bundle_from_checkpoint(Path(path), self.home, device=torch.device(self.settings.device))
            self._bundle = (path, bundle)
        return self._bundle[1]

    def _segmentation_model(self):
        from db.segmentation import latest_model_path
        from training.segmentation.model import load_model

        with read_session(self.engine) as s:
            path = latest_model_path(s)
        if self._segmenter is None or self._segmenter[0] != path:
            from db.home import Home

            file = Home.resolve(self.home).from_stored(path) if path else None
            self._segmenter = (path, load_model(file, self.settings.device) if file else None)
        return self._segmenter[1]

    def warm_up(self) -> None:
        """Import the model code and load the released checkpoint now, so the first answer is not slow."""
        from db.jobs import released_checkpoint
        from training.rudalle_import import quiet_rudalle
        from training.segmentation import inference  # noqa: F401

        quiet_rudalle()
        with read_session(self.engine) as s:
            checkpoint = released_checkpoint(s)
            path = checkpoint.path if checkpoint is not None else None
        try:
            if path and Path(path).is_file():
                self._bundle_for(path)
            self._segmentation_model()
        except Exception as exc:  # the jobs that need it will fail, retry and be reported; say it now too
            self.say(f"worker {self.name}: could not load the models yet: {' '.join(str(exc).split())}")

    def run(self, stop: threading.Event | None = None, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        """Work until `stop` is set (after the current job), `max_jobs` are done, or the queue is empty
        (`exit_when_idle`). Returns the number of jobs finished."""
        stop = stop or threading.Event()
        self.warm_up()
        s = self.settings
        self.say(f"worker {self.name}: waiting for jobs ({s.candidates} candidates, {s.show} shown, {s.device})")
        done = 0
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                worked = self.run_once()
            except Exception as exc:  # the database went away: say so and try again
                self.say(f"worker {self.name}: {exc}")
                worked = None
            if worked:
                done += 1
            elif exit_when_idle and worked is False:
                break
            else:
                stop.wait(self.settings.poll_s)
        return done

    def run_once(self) -> bool:
        """Claim and draw one job; False when the queue had none."""
        with write_session(self.engine) as s:
            claim = claim_job(s, self.name, self.settings.lease_s, max_attempts=self.settings.max_attempts)
        if claim is None:
            return False
        started = time.perf_counter()
        try:
            with _Lease(self.engine, claim, self.settings.lease_s) as lease:
                summary = self._draw(claim, lease)
        except LeaseLost as exc:
            self.say(f"job {claim.job_id}: {exc}; left to it")
            return True
        except Exception as exc:  # any failure of this attempt: back to the queue, or failed after the last
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            with write_session(self.engine) as s:
                status = fail_attempt(s, claim.job_id, claim.token, reason, max_attempts=self.settings.max_attempts)
            then = {"queued": "queued again", "failed": "failed for good", "lost": "another worker has it"}[status]
            self.say(f"job {claim.job_id}: attempt {claim.attempt} failed ({reason}); {then}")
            return True
        self.say(f"job {claim.job_id}: done in {time.perf_counter() - started:.1f} s by {self.name} "
                 f"(attempt {claim.attempt}; {summary})")
        return True

    def _draw(self, claim: Claim, lease: _Lease) -> str:
        from training.dalle.candidates import generate_candidates
        from training.dalle.prompts import PromptTruncated
        from training.dalle.sampler import SamplingParams
        from training.segmentation.data import to_rgb_on_white
        from training.segmentation.inference import segment
        from training.segmentation.predict import rgba_with_mask

        s = self.settings
        bundle = self._bundle_for(claim.checkpoint_path)
        sampling = bundle.config.sampling  # the run's own sampling settings (the recipe's for emojich.toml)
        params = SamplingParams(sampling.top_k, sampling.top_p, sampling.temperature, s.batch_size)
        seeds = job_seeds(claim.job_id, s.candidates)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PromptTruncated)  # the model reads what fits; the bot said so
            batch = generate_candidates(bundle, claim.prompt, seeds, params, s.show, on_progress=_Progress(lease))
        lease.renew(SAMPLING_SHARE + 0.1)
        lease.check()
        model = self._segmentation_model()
        rgbs = [to_rgb_on_white(c.image) for c in batch.candidates]
        results = []
        for candidate, rgb, seg in zip(batch.candidates, rgbs, segment(rgbs, model, device=s.device), strict=True):
            cut = seg.mask if seg.mask.any() else np.ones_like(seg.mask)  # nothing found: the whole square
            results.append(CandidateResult(
                seed=candidate.seed, perplexity=candidate.perplexity, image=candidate.image,
                rgba=rgba_with_mask(rgb, cut), mask=_mask_image(seg.mask), mask_source=seg.method,
                confidence_mean=seg.confidence_mean, confidence_object=seg.confidence_object,
                round=model.round if model is not None else None,
                top_k=params.top_k, top_p=params.top_p, temperature=params.temperature,
            ))
        lease.check()
        with write_session(self.engine) as session:
            complete_job(session, claim.job_id, claim.token, batch.sampled, results)
        low, high = batch.perplexity_range
        methods = [r.mask_source for r in results]
        return (f"{batch.sampled} sampled, {len(results)} kept, perplexity {low:.2f}–{high:.2f}; "
                f"masks unet {methods.count('unet')}, contour {methods.count('contour')}")
