"""Services of the sales pools: groups and their rules (``groups``, ``rules``), manual operations."""
