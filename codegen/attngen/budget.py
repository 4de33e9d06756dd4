"""The node budget of one check: the nodes its inferences expand to, together."""

from __future__ import annotations

from .algebra import TooLarge

# The node budget: the nodes one check infers in all its configurations, a sub-spec's at
# every `use:` and `each` item (`each` x `use:` x depth), inferred or from the cache of
# identical calls (what the module would contain).
MAX_NODES = 50_000


class NodeCount:
    """The nodes one check inferred so far (its inferences share it); TooLarge past MAX_NODES."""

    def __init__(self) -> None:
        self.used = 0

    def add(self, n: int) -> None:
        self.used += n
        if self.used > MAX_NODES:
            raise TooLarge(f"the spec expands to more than {MAX_NODES:,} nodes: its own and "
                           "its sub-specs' at every `use:` and `each` item, in every "
                           "configuration (the build budget for nodes)")
