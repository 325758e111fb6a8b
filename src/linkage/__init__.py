"""linkage: customer retention against employee retention, unit by unit and over time.

The package is layered; each layer imports only from the layers listed before it:

1. ``linkage.errors``, ``linkage.io``      reading files, mappings, input schemas, atomic writes
2. ``linkage.clean``                       defects set aside with a reason; the cleaning report
3. ``linkage.panel``                       unit x period panel (spells or activity log), roll-ups,
                                           surveys, revenue and segments on the same grid
4. ``linkage.pipeline``                    ``prepare()``: read, clean and build in one call
5. ``linkage.simulate``                    a service-profit-chain world with known truth
6. ``linkage.stats``                       linkage statistics (between, within, lags, direction)
7. ``linkage.viz``                         plots (return the Axes they drew on)
8. ``linkage.app``                         widgets, dashboards, static report
9. ``linkage.cli``                         the ``linkage`` command

``linkage.privacy`` (small-group suppression) and ``linkage.words`` (how figures are put in words)
sit beside ``linkage.io``: they need nothing above it.
``tests/test_layers.py`` enforces the direction.
"""

__version__ = "0.1.0"
