"""meta-all.

The umbrella: `import meta_all` gives every meta-* package (`meta_all.functional`, `.nn`,
`.optim`, `.algos`, `.tasks`, `.train`), the main names at the top level, and compatibility
layers for learn2learn and MetaNN users (`meta_all.compat`).
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
