"""linkage.simulate: a service-profit-chain world with planted truth.

One latent model (:class:`WorldSpec`) feeds two outputs: :func:`simulate_panel` draws the unit x
month panel straight from the model's hazards (fast, for simulation studies), and
:func:`simulate` realises the same counts as people: employee spells, customer spells or an
activity log, a units table, optional defects, and the truth. :func:`write_world` writes the
extracts (canonical CSVs and, on request, a raw HR/CRM export with its ``mapping.yaml``).
:func:`scenario` gives the named teaching worlds of :data:`SCENARIOS` (Simpson's paradox, a
shared season, tiny units, reverse causality, ...). A :class:`ChainSpec` passed to
:func:`simulate` plants the rest of the chain on streams of its own: an employee survey (items
that drive retention and items that do not), a customer survey (CSAT, NPS), customer segments
with their own sensitivity to the climate, and revenue per customer and month. An
:class:`EventSpec` plants manager departures (a ``role`` column on the employees), staff shocks
and a programme with staggered starts, with their effects on customer retention.
"""

from linkage.simulate._defects import DEFECT_REASONS
from linkage.simulate._events import EventSpec
from linkage.simulate._panel import simulate_panel, truth_latent
from linkage.simulate._relationships import RelationshipSpec
from linkage.simulate._scenarios import SCENARIOS, scenario
from linkage.simulate._service_chain import ChainSpec
from linkage.simulate._spec import WorldSpec
from linkage.simulate._world import World, simulate
from linkage.simulate._write import (
    SAMPLE_CHAIN,
    SAMPLE_DEFECTS,
    SAMPLE_EVENTS,
    SAMPLE_RELATIONSHIPS,
    SAMPLE_SPEC,
    write_sample,
    write_world,
)

__all__ = [
    "WorldSpec",
    "ChainSpec",
    "EventSpec",
    "RelationshipSpec",
    "scenario",
    "SCENARIOS",
    "World",
    "simulate_panel",
    "simulate",
    "truth_latent",
    "write_world",
    "write_sample",
    "SAMPLE_SPEC",
    "SAMPLE_CHAIN",
    "SAMPLE_RELATIONSHIPS",
    "SAMPLE_EVENTS",
    "SAMPLE_DEFECTS",
    "DEFECT_REASONS",
]
