"""`cdc generate`: seed the source database, then stream live shop transactions into it."""
from __future__ import annotations

import random
import sys
import threading

import click

from core.settings import SourceSettings
from core.signals import stop_on_signals
from core.source.migrate import apply_migrations


@click.group()
def generate() -> None:
    """Generate source data: a deterministic seed, then a live stream of transactions.

    Both read PG_DSN and apply the source schema first, so an empty database works.
    """


@generate.command("seed")
@click.option("--users", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--categories", type=click.IntRange(min=0), default=20, show_default=True,
              help="A quarter are top-level; the rest sit below them, at most three levels deep.")
@click.option("--products", type=click.IntRange(min=0), default=500, show_default=True)
@click.option("--orders", type=click.IntRange(min=0), default=5000, show_default=True,
              help="Each with 1-5 lines of distinct products.")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True,
              help="The same seed gives the same rows, ids and timestamps included.")
@click.option("--append", is_flag=True,
              help="Allow a database that already holds data: the new rows get ids after the highest "
                   "existing ones, and new products and orders may also refer to existing categories, "
                   "users and products. Without it, seeding a non-empty database is refused.")
@click.option("--if-empty", is_flag=True,
              help="Seed only an empty database; when it holds data, say so and exit 0 "
                   "(for a service that runs at every start, like docker compose's generator).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def seed_command(users: int, categories: int, products: int, orders: int, seed_value: int, append: bool,
                 if_empty: bool, as_json: bool) -> None:
    """Bulk-load users, categories, products and orders with COPY, in one transaction."""
    from generator.dataset import SeedPlan
    from generator.report import not_seeded_json, seed_json, seed_report
    from generator.seed import occupied_tables, seed_database

    plan = SeedPlan(users=users, categories=categories, products=products, orders=orders, seed=seed_value)
    settings = SourceSettings.from_env()
    apply_migrations(settings)
    if if_empty and (occupied := occupied_tables(settings)):
        if as_json:
            click.echo(not_seeded_json(occupied))
            return
        click.echo(f"not seeding: the source already holds data ({', '.join(occupied)})")
        return
    with click.progressbar(length=plan.entities, label="seeding", file=sys.stderr) as bar:
        summary = seed_database(settings, plan, append=append, progress=bar.update)
    click.echo(seed_json(summary) if as_json else seed_report(summary))


@generate.command("live")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Transactions per second, on a steady schedule.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds to run. Default: until Ctrl-C or SIGTERM.")
@click.option("--seed", "seed_value", type=int, default=None,
              help="Seeds the choices (default: a random seed, shown at the end).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Connections applying transactions in parallel, for rates one connection cannot reach. "
                   "Beyond 1 the data depends on their interleaving: the same seed no longer gives the same rows.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def live_command(rate: float, duration: float | None, seed_value: int | None, workers: int, as_json: bool) -> None:
    """Apply a stream of shop transactions: new orders, status changes, cancellations, deletes,
    line edits, renames, price changes, new users and products.

    Every transaction keeps each order's total_amount equal to the sum of its lines.
    Needs a seeded database. Prints the achieved rate and the count of each kind at the end.
    """
    from generator.live import LiveConfig, run_live
    from generator.report import live_json, live_report

    seed = seed_value if seed_value is not None else random.SystemRandom().randrange(2**31)
    config = LiveConfig(rate=rate, duration=duration, seed=seed, workers=workers)
    settings = SourceSettings.from_env()
    apply_migrations(settings)
    stop = threading.Event()
    with stop_on_signals(stop, finishing="the current transaction"):
        summary = run_live(settings, config, stop)
    click.echo(live_json(summary) if as_json else live_report(summary))
