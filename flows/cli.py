"""The `storythreads` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from flows.settings import StorythreadsSettings

app = typer.Typer(
    help="Find shared reporting across news articles and group them into story threads.", no_args_is_help=True
)
console = Console()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show debug logging")] = False) -> None:
    """storythreads command line."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    for package in ("corpus", "embeddings", "clustering", "reports", "flows"):
        logging.getLogger(package).setLevel(logging.DEBUG if verbose else logging.INFO)


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="files or folders of articles (.txt, .jsonl, news-please .json)")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="folder for report.json/.md/.html")] = None,
    encoder: Annotated[
        str | None, typer.Option(help="auto | lexical | a sentence-transformers model id or folder")
    ] = None,
    device: Annotated[str | None, typer.Option(help="torch device for a model encoder, e.g. cpu or cuda")] = None,
    batch_size: Annotated[int | None, typer.Option(help="texts per model batch")] = None,
) -> None:
    """Run the pipeline once over PATHS and write the reports."""
    from flows.pipeline import run_flow  # imports Prefect: keep `--help` fast

    defaults = StorythreadsSettings()
    missing = [str(p) for p in paths if not p.exists()]
    if len(missing) == len(paths):
        console.print(f"[red]error:[/red] none of the inputs exist: {', '.join(missing)}")
        raise typer.Exit(2)
    with console.status("running storythreads…"):
        result = run_flow(
            paths,
            output=str(output or defaults.output),
            encoder=encoder or defaults.encoder,
            device=device or defaults.device,
            batch_size=batch_size or defaults.batch_size,
            max_input_bytes=defaults.max_input_bytes,
        )
    report = result["report"]
    _print_summary(report, result["files"])
    if report["run"]["articles_read"] == 0:
        console.print("[red]error:[/red] no article could be read; see the skipped inputs above")
        raise typer.Exit(1)


def _print_summary(report: dict, files: dict[str, str]) -> None:
    run_info = report["run"]
    console.print(f"[bold]storythreads[/bold] run {run_info['id']} · encoder {run_info['encoder']}")
    if run_info["encoder_note"]:
        console.print(f"[yellow]note:[/yellow] {run_info['encoder_note']}")
    console.print(f"articles read: {run_info['articles_read']}, skipped: {run_info['articles_skipped']}")
    kinds = Table(title="duplicate pairs")
    kinds.add_column("kind")
    kinds.add_column("pairs", justify="right")
    for kind, count in run_info["duplicate_pairs"].items():
        kinds.add_row(kind, str(count))
    console.print(kinds)
    for pair in report["duplicates"][:20]:
        a, b = pair["articles"]
        console.print(f"  {pair['kind']:<15} {a} ↔ {b}  score {pair['score']:.2f}  quotes {len(pair['shared_quotes'])}")
    console.print(f"threads: {run_info['threads']}, unthreaded articles: {run_info['unthreaded']}")
    for thread in report["threads"][:20]:
        console.print(f"  {thread['id']}  {thread['label']}  ({len(thread['articles'])} articles)")
    for skipped in report["skipped"]:
        console.print(f"[yellow]skipped[/yellow] {skipped['input']}: {skipped['reason']}")
    console.print("reports: " + ", ".join(files.values()))


if __name__ == "__main__":
    app()
