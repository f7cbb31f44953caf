"""What minibp exports, for the tests that must cover every exported module or optimizer."""

from __future__ import annotations

import minibp as bp


def exported_subclasses(base: type) -> list[str]:
    """The names in ``minibp.__all__`` of the proper subclasses of ``base``, sorted."""
    return sorted(
        name
        for name in bp.__all__
        if isinstance(getattr(bp, name), type) and issubclass(getattr(bp, name), base) and getattr(bp, name) is not base
    )
