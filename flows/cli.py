"""The `storythreads` command line."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from night import defaults
from night.defaults import shown

_verbose = False
"""`--verbose`: debug logging, and every new pair and thread in the terminal summary."""
app = typer.Typer(
    help="Find shared reporting across news articles and group them into story threads.", no_args_is_help=True
)
console = Console()
SUMMARY_ROWS = 10
INFRASTRUCTURE_FAILED = 4
"""The exit status of a run that its database, Dask cluster or disk failed mid-run (the next run resumes)."""
QUIET_LOGGERS = ("prefect", "distributed")
"""Their records reach the Prefect UI and the run's log file; the terminal shows them only with --verbose."""
"""New pairs, threads and skipped inputs the terminal summary lists (all with --verbose)."""


@app.callback()
def options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show debug logging")] = False) -> None:
    """storythreads command line."""
    global _verbose
    _verbose = verbose
    handler = RichHandler(console=Console(stderr=True), show_path=False)
    if not verbose:
        # the terminal shows the progress bar, our warnings and the summary; the stages' info lines, Prefect's
        # and Dask's records and every traceback go to the Prefect UI (its API handler) and the run's log file
        handler.setLevel(logging.WARNING)
        handler.addFilter(lambda record: not record.exc_info and not record.name.startswith(QUIET_LOGGERS))
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    for package in ("corpus", "embeddings", "clustering", "store", "reports", "night", "flows"):
        logging.getLogger(package).setLevel(logging.DEBUG if verbose else logging.INFO)


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="data folder: store, index files, reports", show_default=shown("home", defaults.HOME)),
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Dask scheduler for large nights, e.g. tcp://HOST:8786",
        show_default=shown("cluster", "this machine"),
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="store URL, e.g. postgresql+psycopg://user@host/db", show_default=shown("db", "SQLite in --home")
    ),
]


@app.command()
def run(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="files or folders of articles (.txt, .html, .jsonl, .json, news-please, RSS/Atom .xml; also .gz or "
            ".zst), feed URLs and article URLs",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="folder for report.json, report.md and the report site",
            show_default="under --home/reports",
        ),
    ] = None,
    home: HomeOption = None,
    db: DbOption = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="auto | lexical | multilingual-e5-small | a sentence-transformers model id or folder",
            show_default=shown("encoder", defaults.ENCODER),
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="torch device for a model encoder, e.g. cpu or cuda",
            show_default=shown("device", "sentence-transformers' choice"),
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="texts per model batch", show_default=shown("batch_size", defaults.BATCH_SIZE))
    ] = None,
    retention_days: Annotated[
        float | None,
        typer.Option(
            help="compare with stored articles this many days old or newer",
            show_default=shown("retention_days", defaults.RETENTION_DAYS),
        ),
    ] = None,
    lock_wait: Annotated[
        float | None,
        typer.Option(
            help="seconds to wait while another run uses the store",
            show_default=shown("lock_wait", defaults.LOCK_WAIT_S),
        ),
    ] = None,
    max_article_bytes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="skip an article larger than this; files of many articles are read one article at a time",
            show_default=shown("max_article_bytes", defaults.MAX_ARTICLE_BYTES),
        ),
    ] = None,
    cluster: ClusterOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="worker processes on this machine without --cluster; 0: none",
            show_default=shown("workers", "cores - 1"),
        ),
    ] = None,
) -> None:
    """Take in PATHS, compare them with the stored window, update the threads and write the reports."""
    from flows.server import start_if_needed

    if cluster is not None:
        from executor.dask import check_address

        try:
            check_address(cluster)
        except ValueError as error:
            console.print(f"[red]error:[/red] --cluster: {error}")
            raise typer.Exit(2) from error
    from corpus.readers import is_url

    missing = [p for p in paths if not Path(p).exists() and not is_url(p)]
    if len(missing) == len(paths):
        console.print(f"[red]error:[/red] none of the inputs exist: {', '.join(missing)}")
        raise typer.Exit(2)
    # before the heavy imports: Prefect's temporary API boots on the other core meanwhile
    server = start_if_needed()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from executor.dask import ClusterUnreachable
    from flows.pipeline import run_flow  # imports Prefect: keep `--help` fast
    from night.failures import infrastructure_failure
    from night.settings import StorythreadsSettings
    from night.stages import STAGE_NAMES
    from store import StoreBusy, store_url

    defaults = StorythreadsSettings()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        stage = bar.add_task("storythreads: starting", total=100)

        def on_progress(done: str, percent: float) -> None:
            following = STAGE_NAMES.index(done) + 1
            upcoming = STAGE_NAMES[following] if following < len(STAGE_NAMES) else "done"
            bar.update(stage, completed=percent, description=f"storythreads: {upcoming}")

        try:
            result = run_flow(
                paths,
                on_progress=on_progress,
                server=server,
                output=str(output) if output else None,
                home=str(home) if home else None,
                db=db,
                encoder=encoder,
                device=device,
                batch_size=batch_size,
                max_article_bytes=max_article_bytes or defaults.max_article_bytes,
                retention_days=retention_days,
                lock_wait_seconds=lock_wait,
                cluster=cluster,
                workers=workers,
            )
        except StoreBusy as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(3) from error
        except ClusterUnreachable as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from error
        except Exception as error:
            failure = infrastructure_failure(error, store_url(home or defaults.home, db or defaults.db), cluster)
            if failure is None:
                raise  # no failure of the machinery: a bug, shown whole
            bar.stop()
            if _verbose:
                Console(stderr=True).print_exception()
            first, *rest = failure.lines()
            # not wrapped by us: a URL or a path stays whole for copying (the terminal wraps what it shows)
            console.print(f"[red]error:[/red] {first}", highlight=False, soft_wrap=True)
            for line in rest:
                console.print(f"  {line}", highlight=False, soft_wrap=True)
            raise typer.Exit(INFRASTRUCTURE_FAILED) from error
    report = result["report"]
    _print_summary(report, result["files"])
    if report["run"]["articles_read"] == 0:
        console.print("[red]error:[/red] no article could be read; see the skipped inputs above")
        raise typer.Exit(1)


@app.command()
def threads(
    home: HomeOption = None,
    db: DbOption = None,
    include_single: Annotated[
        bool, typer.Option("--all", help="also list single-article threads", show_default="off")
    ] = False,
    limit: Annotated[int, typer.Option(help="list at most this many threads")] = 100,
) -> None:
    """List the current story threads: id, label, size, first and last date."""
    from night.settings import StorythreadsSettings
    from store import NoStore, Store

    settings = StorythreadsSettings()
    try:
        opened = Store.open_existing(home or settings.home, db or settings.db)
    except NoStore as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    with opened as store:
        stored = store.threads()
        facts = store.article_facts(a for t in stored.values() for a in t.members)
    rows = []
    for thread in stored.values():
        if len(thread.members) < 2 and not include_single:
            continue
        dates = [facts[a]["published_at"] or facts[a]["arrived_at"] for a in thread.members if a in facts]
        dates = [d for d in dates if d]
        rows.append((thread, min(dates) if dates else None, max(dates) if dates else None))
    rows.sort(key=lambda r: (-len(r[0].members), r[0].id))
    table = Table(title=f"story threads ({len(rows)})")
    for column in ("thread", "label", "articles", "first", "last"):
        table.add_column(column, justify="right" if column == "articles" else "left")
    for thread, first, last in rows[:limit]:
        table.add_row(
            thread.id,
            thread.label,
            str(len(thread.members)),
            first.date().isoformat() if first else "",
            last.date().isoformat() if last else "",
        )
    console.print(table)
    if len(rows) > limit:
        console.print(f"… and {len(rows) - limit} more (--limit)")


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option("--inbox", help="folder the nightly run reads new articles from")],
    cron: Annotated[str, typer.Option(help="when to run, as a cron expression")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option(help="IANA time zone of the cron expression")] = "UTC",
    name: Annotated[str, typer.Option(help="deployment name")] = "nightly",
    home: HomeOption = None,
    db: DbOption = None,
    encoder: Annotated[
        str | None,
        typer.Option(help="encoder for the scheduled runs", show_default=shown("encoder", defaults.ENCODER)),
    ] = None,
    cluster: ClusterOption = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(help="a feed or article URL each run also reads (repeat for more)", show_default="none"),
    ] = None,
) -> None:
    """Register the nightly deployment with its schedule on the Prefect server and serve it (runs until stopped)."""
    from flows.deployment import serve_nightly

    if inbox.exists() and not inbox.is_dir():
        console.print(f"[red]error:[/red] --inbox {str(inbox)!r} is a file; expected a folder of articles")
        raise typer.Exit(2)
    inbox.mkdir(parents=True, exist_ok=True)
    try:
        serve_nightly(
            inbox,
            cron=cron,
            timezone=timezone,
            name=name,
            home=home,
            db=db,
            encoder=encoder,
            cluster=cluster,
            feeds=feed or [],
        )
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    except (KeyboardInterrupt, BaseExceptionGroup) as stopped:
        # a Ctrl-C that Prefect's runner did not take reaches us wrapped in its task group's exception group
        if isinstance(stopped, BaseExceptionGroup) and stopped.subgroup(KeyboardInterrupt) is None:
            raise
    # serving ends only when stopped; a second Ctrl-C would break Prefect's own clean-up (its
    # temporary server's stop, bounded to a few seconds) with a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    console.print(f"stopped serving storythreads/{name}; scheduled runs wait until it is served again")


def _print_summary(report: dict, files: dict[str, str]) -> None:
    """What the run found, each thing once: tonight's news (the strongest, all with --verbose), then the window's
    counts, the skipped inputs and where the reports are."""
    from reports.render import tonight_lines
    from reports.wording import counted

    run_info = report["run"]
    model = f" · model {run_info['model']}" if run_info.get("model") else ""
    console.print(f"[bold]storythreads[/bold] run {run_info['id']} · encoder {run_info['encoder']}{model}")
    console.print(
        f"articles read: {run_info['articles_read']} ({run_info['articles_new']} new, "
        f"{run_info['articles_updated']} updated, {run_info['articles_unchanged']} unchanged), "
        f"skipped: {run_info['articles_skipped']}; in the window: {run_info['articles_in_window']}"
    )
    limit = None if _verbose else SUMMARY_ROWS
    for line in tonight_lines(report, limit):
        console.print(("  " if line.startswith("  ") else "tonight: ") + line.strip(), highlight=False)
    kinds = ", ".join(f"{count} {kind}" for kind, count in run_info["duplicate_pairs"].items() if count)
    pairs = sum(run_info["duplicate_pairs"].values())
    console.print(
        f"in the window: {counted(pairs, 'duplicate pair')}"
        + (f" ({kinds})" if kinds else "")
        + f", {counted(run_info.get('duplicate_groups', 0), 'duplicate group')} "
        f"holding {counted(run_info.get('articles_in_groups', 0), 'article')}, "
        f"{counted(run_info['threads'], 'thread')}, {counted(run_info['unthreaded'], 'unthreaded article')}",
        highlight=False,
    )
    for skipped in report["skipped"][:limit]:
        console.print(f"[yellow]skipped[/yellow] {skipped['input']}: {skipped['reason']}")
    if limit is not None and len(report["skipped"]) > limit:
        console.print(
            f"[yellow]… and {len(report['skipped']) - limit} more skipped inputs[/yellow] (--verbose, report.json)"
        )
    console.print("reports: " + ", ".join(files.values()), soft_wrap=True)


@app.command()
def compare(
    first: Annotated[str, typer.Argument(help="an article file, or an article id (under --corpus, or stored)")],
    second: Annotated[str, typer.Argument(help="an article file, or an article id (under --corpus, or stored)")],
    corpus: Annotated[
        list[Path] | None, typer.Option(help="files or folders to look ids up in", show_default="none")
    ] = None,
    home: HomeOption = None,
    db: DbOption = None,
    encoder: Annotated[
        str, typer.Option(help="auto | lexical | a sentence-transformers model id or folder")
    ] = "lexical",
) -> None:
    """Show the evidence between two articles: matched passages, shared quotes, containment, story similarity.

    Each article is a file, an id under --corpus, or an id in the store (--home/--db, as `run`).
    Runs the same stages as `storythreads run` on the two articles, against a temporary store.
    """
    from corpus.readers import read_articles
    from night.compare import compare_articles

    articles = []
    in_corpus = {article.id: article for article in read_articles(corpus).articles} if corpus else {}
    for name in (first, second):
        from_file = read_articles([name]).articles if Path(name).is_file() else []
        article = from_file[0] if from_file else in_corpus.get(name)
        if article is None:
            article, where = _stored_article(name, home, db)
            if article is None:
                looked = "not a readable file" + (", no such id under --corpus" if corpus else "") + f", {where}"
                console.print(f"[red]error:[/red] no article {name!r}: {looked}")
                raise typer.Exit(2)
        articles.append(article)
    try:
        result = compare_articles(articles[0], articles[1], encoder)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    a, b = result.first, result.second
    console.print(f"[bold]{a.article.id}[/bold]  {a.article.title}")
    console.print(f"[bold]{b.article.id}[/bold]  {b.article.title}")
    console.print(f"story similarity: {result.story_similarity:.2f}")
    if result.group is not None:
        console.print(
            f"kind: [bold]{result.group.kind}[/bold] · the same reporting text after folding: one duplicate group "
            f"({result.group.id}), analysed once · share of each found in the other: 100%"
        )
        if result.group.first:
            console.print(f"published first: {result.group.first}")
        return
    pair = result.pair
    if pair is None:
        console.print("no shared reporting: no passage or quote in common")
        return
    first_id, second_id = (a.article.id, b.article.id)
    containment = {pair.article_a: pair.containment_a, pair.article_b: pair.containment_b}
    console.print(
        f"kind: [bold]{pair.kind.value}[/bold] · share of {first_id} found in {second_id}: {containment[first_id]:.0%}"
        f" · share of {second_id} found in {first_id}: {containment[second_id]:.0%}"
    )
    if pair.first:
        console.print(f"published first: {pair.first}")
    evidence = Table(show_lines=True)
    evidence.add_column("evidence")
    evidence.add_column(pair.article_a)
    evidence.add_column(pair.article_b)
    for quote in pair.shared_quotes:
        evidence.add_row(f"quote · {quote.speaker or 'unnamed'}", quote.quote_a.text, quote.quote_b.text)
    text_a, text_b = (a, b) if pair.article_a == a.article.id else (b, a)
    for match in pair.matches:
        label = (
            f"passage · model similarity {match.similarity:.2f}"
            if pair.kind.value in ("reworded", "translated")
            else f"passage · {match.overlap:.0%} shared"
        )
        evidence.add_row(
            label, text_a.article.text[match.start_a : match.end_a], text_b.article.text[match.start_b : match.end_b]
        )
    console.print(evidence)


def _stored_article(article_id: str, home: Path | None, db: str | None) -> tuple[Any, str]:
    """The stored article `article_id` (or None), and where it was looked for, for a message."""
    from night.settings import StorythreadsSettings
    from store import NoStore, Store

    settings = StorythreadsSettings()
    try:
        store = Store.open_existing(home or settings.home, db or settings.db)
    except NoStore as error:
        return None, str(error)
    with store:
        found = store.articles([article_id])
        return (found[0] if found else None), f"and not in the store at {store.display_url}"


_exit_code = 1
"""The status `main` exits with; 1 until the command finishes or says otherwise."""


def main() -> None:
    """The `storythreads` command: the commands above, then an exit without the interpreter's teardown.

    After a large run, freeing millions of objects one by one at exit took about a second; the
    process ends instead once every exit handler has run (Prefect's last logs and events, the
    temporary server, the worker processes), the logs are closed and the output is flushed.
    """
    from executor import collect_garbage_rarely

    global _exit_code
    atexit.register(_exit_now)  # registered first, so it runs after every handler registered later
    collect_garbage_rarely()  # as the stages do, from the imports on
    try:
        app()
        _exit_code = 0
    except SystemExit as done:
        _exit_code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        raise


def _exit_now() -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code)


if __name__ == "__main__":
    main()
