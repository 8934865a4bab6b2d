"""`emojich dataset ...`: build (Noto + CLDR, or import a folder + CSV), stats, list."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from db.errors import EmojichError

dataset_app = typer.Typer(help="The Russian-captioned emoji dataset.", no_args_is_help=True)

SOURCES = ("noto", "folder")


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "imported"


@dataset_app.command("build")
def build(
    ctx: typer.Context,
    path: Path = typer.Argument(None, help="With --source folder: the folder of images."),
    name: str = typer.Option(None, "--name", help="Dataset name (default noto-ru, or the folder's name)."),
    source: str = typer.Option("noto", "--source", help="noto (Noto Color Emoji + CLDR) or folder PATH."),
    csv_file: Path = typer.Option(None, "--csv", help="CSV of file,caption (default: the one CSV in PATH)."),
    size: int = typer.Option(256, "--size", help="Output size in pixels."),
    upscale: str = typer.Option("lanczos", "--upscale", help="lanczos or realesrgan (weights in the cache)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Build only N emoji, evenly spread (noto)."),
    val_size: int = typer.Option(143, "--val-size", help="Validation images (whole captions; ≤ 1/5 of all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the caption split."),
) -> None:
    """Build or import a dataset under <home>/datasets/NAME and register it in the database."""
    from training.dataset import build_noto_dataset, import_folder, register_dataset

    if source not in SOURCES:
        raise EmojichError(f"unknown --source {source!r}; expected noto or folder PATH")
    if source == "folder" and path is None:
        raise EmojichError("--source folder needs the folder: emojich dataset build --source folder PATH")
    if source == "noto" and path is not None:
        raise EmojichError(
            f"unexpected PATH {path} with --source noto (did you mean --source folder {path}?)"
        )
    if csv_file is not None and source != "folder":
        raise EmojichError("--csv only applies to --source folder")
    engine = ctx.obj.engine  # fail fast if the database is not migrated
    home = ctx.obj.home
    if source == "noto":
        report = build_noto_dataset(
            home,
            name=name or "noto-ru",
            size=size,
            limit=limit,
            val_size=val_size,
            upscale=upscale,
            seed=seed,
            progress=True,
        )
    else:
        report = import_folder(
            home,
            path,
            name=name or _slug(Path(path).resolve().name),
            csv_path=csv_file,
            size=size,
            val_size=val_size,
            upscale=upscale,
            seed=seed,
            progress=True,
        )
    for line in report.problems:
        typer.echo(line)
    added = register_dataset(engine, report.directory)
    typer.echo(report.summary())
    typer.echo(f"registered {added} new items in the database ({report.images - added} already there)")


@dataset_app.command("stats")
def stats(
    ctx: typer.Context,
    name: str = typer.Option("noto-ru", "--name", help="Dataset name."),
) -> None:
    """Counts, unique captions and the caption word-count histogram (printed and saved as PNG)."""
    from db.engine import read_session
    from training.dataset import (
        compute_stats,
        dataset_dir,
        read_metadata,
        save_word_count_histogram,
        stats_from_records,
    )
    from training.dataset.stats import HISTOGRAM_FILE

    directory = dataset_dir(ctx.obj.home, name)
    with read_session(ctx.obj.engine) as session:
        result = compute_stats(session, name)
    if result.images == 0:
        result = stats_from_records(name, read_metadata(directory))  # clear error if not built
        typer.echo(f"(dataset {name} is not registered in the database; figures from metadata.jsonl)")
    for line in result.lines():
        typer.echo(line)
    png = save_word_count_histogram(result, directory / HISTOGRAM_FILE)
    typer.echo(f"histogram saved to {png}")


@dataset_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Datasets registered in the database."""
    from db.dataset import list_datasets
    from db.engine import read_session

    with read_session(ctx.obj.engine) as session:
        summaries = list_datasets(session)
    if not summaries:
        typer.echo("no datasets registered; run `emojich dataset build`")
    for s in summaries:
        typer.echo(
            f"{s.name}: {s.items} images ({s.train} train, {s.val} val), {s.unique_captions} unique captions"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
