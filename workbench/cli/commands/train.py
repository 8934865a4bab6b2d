"""`emojich train`: fine-tune ruDALL-E (the recipe or the tiny CPU path), or resume a run."""
from __future__ import annotations

import typer


def train(
    ctx: typer.Context,
    config: str = typer.Option(
        "tiny", "--config", help="A shipped config by name (tiny, emojich, smoke) or a TOML file's path."
    ),
    resume: str = typer.Option(None, "--resume", help="Continue this run (name or id) from its last checkpoint."),
    name: str = typer.Option(None, "--name", help="Run name (default <config name>-<UTC time>)."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a config key: --set train.epochs=2"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bars."),
    nproc: int = typer.Option(
        None, "--nproc", min=1,
        help="Data-parallel processes on this machine (DDP through torch's launcher, like torchrun "
             "--nproc-per-node N): one per GPU, or gloo processes on the CPU.",
    ),
) -> None:
    """Train with a config; a tiny config first builds its dataset, tokenizer and VAE when missing.

    Several GPUs or machines: `torchrun --nproc-per-node N -m workbench.cli train …` (or --nproc N here);
    train.batch_size stays the global batch per step."""
    from db.errors import EmojichError
    from training.config import load_config
    from training.dalle import distributed

    if resume and (overrides or name):
        raise EmojichError("--resume continues a run with its stored config: drop --set and --name")
    cfg = None if resume else load_config(config, overrides or [])  # checked once, before any process starts
    engine = ctx.obj.engine
    home = ctx.obj.home
    if nproc is not None:
        if distributed.launched():
            raise EmojichError("--nproc starts the processes itself; under torchrun leave it out")
        from workbench.cli.launch import launch

        argv = ["train", "--config", config, "--progress" if progress else "--no-progress"]
        argv += ["--resume", resume] if resume else []
        argv += ["--name", name] if name else []
        for item in overrides or []:
            argv += ["--set", item]
        launch(nproc, argv, env={"EMOJICH_HOME": str(home), "EMOJICH_DB": ctx.obj.db_url}, run=resume or name)
        return
    try:
        info = _train(cfg, home, engine, resume, name, progress)
    finally:
        distributed.shutdown_process_group()
    if distributed.setup_rank() == 0:
        typer.echo(f"run {info.name} (id {info.run_id}): step {info.step} of {info.total_steps}")


def _train(cfg, home, engine, resume: str | None, name: str | None, progress: bool):
    from training.dalle.train import train as run_training

    if resume:
        return run_training(None, home, engine, resume=resume, progress=progress)
    if cfg.model.source == "tiny":
        from training.tiny.pipeline import train_tiny

        return train_tiny(home, engine, cfg, name=name, progress=progress)
    return run_training(cfg, home, engine, name=name, progress=progress)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
