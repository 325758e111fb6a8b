"""linkage.io"""

from linkage.io.datasets import load_jolts, load_sample_panel, load_sample_world  # noqa: F401
