"""The workbench (工作台): apps register the cards they add with :func:`register_cards`.

A card provider takes the request and returns a list of ``{"title", "value"}`` cards (empty when the
user may see none of them); providers run in app order. A card may also carry ``"chart"`` (the JSON of
Chart.js bar data, drawn with unfold's bundled Chart.js instead of the value) and ``"href"`` (a link)."""

from __future__ import annotations

from collections.abc import Callable

CardProvider = Callable[[object], list[dict]]
CARD_PROVIDERS: list[CardProvider] = []


def register_cards(provider: CardProvider) -> CardProvider:
    if provider not in CARD_PROVIDERS:
        CARD_PROVIDERS.append(provider)
    return provider


def workbench_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: every registered app's cards for this user."""
    cards = [card for provider in CARD_PROVIDERS for card in provider(request)]
    context.update({"cards": cards, "last_login": request.user.last_login})
    return context
