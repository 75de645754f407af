"""djbench matrix: every server with every view variant (and every Django of --djangos), then
one comparison."""

from djbench.commands import benchmark
from djbench.commands.options import add_run_options, names
from djbench.errors import UserError
from djbench.project import versions
from djbench.system.log import log

NAME = "matrix"
HELP = "every server with every view variant, then compare"


def add_arguments(p):
    p.add_argument(
        "--servers", default="gunicorn,uvicorn", help="server names, comma- or space-separated"
    )
    p.add_argument("--views", default="sync,async", help="view variants, comma- or space-separated")
    p.add_argument(
        "--djangos",
        default="",
        help=f"Django series or releases side by side, comma- or space-separated "
        f"({', '.join(versions.SERIES)})",
    )
    add_run_options(p, view=False)


def run(args):
    pairs = benchmark.combinations(args, args.views)
    if args.djangos:
        pairs = with_djangos(args, pairs)
    return benchmark.benchmark(args, pairs, compare=True)


def with_djangos(args, pairs):
    """Every pair on every Django asked for; a view an old Django cannot run is left out, said."""
    if args.django:
        raise UserError("--django runs one Django, --djangos several: one of them")
    djangos = [versions.check("--djangos", d) for d in names(args.djangos, "djangos")]
    triples = []
    for django in djangos:
        for server, view in pairs:
            why_not = versions.refusals(versions.release_of(django), [view], args.db_pool)
            if why_not:
                log.info(f"note: {server} {view} on Django {django} is left out: {why_not}")
            else:
                triples.append((server, view, django))
    if not triples:
        raise UserError(f"nothing to run on Django {', '.join(djangos)}")
    return triples
