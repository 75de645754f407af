"""--scale auto: the steps of a benchmark placed from the WSGI server's knee search, so that the
article's WSGI knee step (300 of 100..700) lands on ours."""

from djbench import config
from djbench.contracts.documents import load_knee
from djbench.errors import UserError
from djbench.search import knee


def knee_config(cfgs, start):
    """The configuration whose knee places the steps: the first WSGI one, as a knee search."""
    wsgi = next((c for c in cfgs if c.interface == "wsgi"), cfgs[0])
    return config.with_overrides(wsgi, profile="knee", users=(start,))


def scaled(cfgs, knee_cfg, knee_dir):
    """Every configuration with the steps that the search in knee_dir gives, and the line
    that says how they were chosen."""
    knees = {
        name: knee.Knee(**{k: v for k, v in found.items() if k != "bounded"})
        for name, found in load_knee(knee_dir)["knees"].items()
    }
    steps = knee.scaled_steps(knees, steps=len(cfgs[0].users))
    if steps is None:
        raise UserError(
            f"--scale auto: the knee search of {knee_cfg.server} found no bounded knee "
            f"(see {knee_dir}); raise --max-users or lower --p95-slo-ms"
        )
    how = (
        f"auto: steps of {steps[0]} users, from {knee_cfg.server}'s knee search {knee_dir.name} "
        f"(the article's WSGI knee step, 300 of 100..700, mapped onto ours)"
    )
    return [config.with_overrides(c, users=steps, scale=how) for c in cfgs], how
