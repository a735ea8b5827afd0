"""What shaped a year's return or scrutiny pack: its provenance block
(:mod:`taserlink.provenance`).

:func:`return_provenance` names the accounts file (hashed as it was read), the column map,
every download (hashed when it was surveyed) and the issue list (or the register's state),
and the settings: the financial year and — when downloads were read — the clock model's
settings and the trusted roots' fingerprints; for a scrutiny pack also the population table
and whether the pack is public.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taserlink.forensics.provenance import clock_settings, inputs_in_order, roots_settings
from taserlink.integrity import TrustStore
from taserlink.postuse.provenance import downloads_inputs
from taserlink.provenance import Input, Provenance, make_provenance
from taserlink.returns.homeoffice import HomeOfficeReturn
from taserlink.returns.population import Population
from taserlink.timeline import ClockSettings

__all__ = ["population_input", "return_provenance"]


def population_input(population: Population) -> Input:
    """The population table as read (its digest computed on the way)."""
    size = population.size if population.size is not None else 0
    return Input(population.path, size, population.sha256, "population")


def return_provenance(
    result: HomeOfficeReturn,
    accounts: Input,
    *,
    columns: Input | None = None,
    issues: Input | None = None,
    register: Mapping[str, Any] | None = None,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
    population: Population | None = None,
    public: bool | None = None,
) -> Provenance:
    """The provenance of ``taserlink home-office`` (and, with ``population`` and
    ``public``, ``taserlink scrutiny``); module docstring.  The clock settings and roots
    are recorded only when the return read downloads (``result.run``)."""
    year = result.year
    downloads = () if result.run is None else downloads_inputs(result.run.downloads)
    settings: dict[str, Any] = {
        "year": year,
        "from_date": f"{year}-04-01",
        "to_date": f"{year + 1}-03-31",
        "time_zone": "Europe/London",
    }
    if public is not None:
        settings["public"] = public
    if result.run is not None:
        settings.update(clock_settings(clock or ClockSettings()))
        settings.update(roots_settings(trust))
        settings.update(register or {})
    return make_provenance(
        inputs_in_order(
            (accounts,),
            () if columns is None else (columns,),
            () if population is None else (population_input(population),),
            downloads,
            () if issues is None or result.run is None else (issues,),
        ),
        settings,
    )
