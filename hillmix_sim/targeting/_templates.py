"""Marketing email texts from templates: offline, reproducible, varied."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hillmix._typing import RandomStateLike
from hillmix.utils import check_generator

from ._texts import check_exclude, check_n, normalise

__all__ = ["TemplateActionGenerator"]

# Product categories, each with items and the free gift that suits it.
_CATEGORIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("running shoes", ("trail runners", "road racers", "everyday trainers"), "pair of socks"),
    ("outdoor gear", ("two-person tents", "hiking packs", "rain shells"), "water bottle"),
    (
        "skincare",
        ("vitamin C serums", "night creams", "SPF 50 moisturisers"),
        "travel-size cleanser",
    ),
    ("coffee", ("single-origin beans", "espresso pods", "cold-brew kits"), "ceramic mug"),
    ("home fitness", ("adjustable dumbbells", "yoga mats", "resistance bands"), "workout towel"),
    ("kitchenware", ("cast-iron pans", "chef's knives", "stand mixers"), "silicone spatula"),
    ("headphones", ("noise-cancelling headphones", "wireless earbuds"), "carry case"),
    ("kids' clothing", ("winter coats", "school shoes", "pyjama sets"), "sticker pack"),
    ("pet supplies", ("grain-free kibble", "orthopaedic dog beds", "cat trees"), "bag of treats"),
    ("books", ("bestselling thrillers", "new cookbooks", "picture books"), "bookmark set"),
    ("smart home", ("video doorbells", "smart bulbs", "smart speakers"), "smart plug"),
    ("travel", ("weekend city breaks", "carry-on suitcases", "beach getaways"), "luggage tag"),
    ("groceries", ("organic vegetable boxes", "fresh bakery bread", "meal kits"), "tote bag"),
    ("wine", ("organic reds", "sparkling wines", "mixed cases"), "bottle opener"),
    ("furniture", ("sofa beds", "oak dining tables", "office chairs"), "cushion cover"),
    ("beauty", ("long-wear lipsticks", "fragrance minis", "hair-care sets"), "makeup bag"),
)

_TONES = ("friendly", "urgent", "exclusive", "playful", "informative", "premium")

_URGENCY = (
    None,
    "today only",
    "until midnight",
    "for the next 48 hours",
    "this weekend only",
    "while stocks last",
    "until Sunday",
)

_PERSONALISATION = ("none", "first_name", "browsing", "loyalty", "location")

_CHANNEL_CUES = (
    "Shop now in the app.",
    "Tap to redeem on your phone.",
    "Show this email at your nearest store.",
    "Order online with free returns.",
    "Use code {code} at checkout.",
    "Reply to this email to reserve yours.",
    "Find it in your local store today.",
)


def _offer(rng: np.random.Generator, category: str, item: str, gift: str) -> tuple[str, str, str]:
    """An offer: the short phrase, a sentence about it, and a promo code."""
    kind = rng.integers(8)
    if kind == 0:
        depth = int(rng.choice([10, 15, 20, 25, 30, 40, 50]))
        return f"{depth}% off {category}", f"Take {depth}% off all {category}.", f"SAVE{depth}"
    if kind == 1:
        depth = int(rng.choice([5, 10, 15, 20, 25, 50]))
        minimum = depth * int(rng.choice([3, 4, 5]))
        return (
            f"${depth} off your next order",
            f"Get ${depth} off any {category} order over ${minimum}.",
            f"TAKE{depth}",
        )
    if kind == 2:
        second = str(rng.choice(["free", "half price"]))
        return (
            f"buy one, get one {second}",
            f"Buy one and get the second {second} on selected {item}.",
            "BOGO",
        )
    if kind == 3:
        minimum = int(rng.choice([0, 25, 35, 50]))
        condition = "on every order" if minimum == 0 else f"on orders over ${minimum}"
        return "free shipping", f"Enjoy free shipping {condition}.", "SHIPFREE"
    if kind == 4:
        depth = int(rng.choice([10, 15, 20, 25]))
        return (
            f"{depth}% off bundles",
            f"Bundle any two {category} items and save {depth}%.",
            f"BUNDLE{depth}",
        )
    if kind == 5:
        multiple = int(rng.choice([2, 3, 5]))
        return (
            f"{multiple}x loyalty points",
            f"Earn {multiple}x loyalty points on every {category} purchase.",
            f"POINTS{multiple}X",
        )
    if kind == 6:
        hours = int(rng.choice([12, 24, 48]))
        return (
            "early access to our sale",
            f"Shop the {category} sale {hours} hours before everyone else.",
            "EARLY",
        )
    return (
        f"a free {gift}",
        f"Get a free {gift} with any {category} purchase.",
        "GIFT",
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _subject(tone: str, variant: int, offer: str, item: str, category: str, urgency) -> str:
    urgent = urgency or "ending soon"
    subjects = {
        "friendly": (
            f"{_cap(offer)} on {item}",
            f"A little treat for you: {offer}",
            f"Your {category} picks, now with {offer}",
        ),
        "urgent": (
            f"{_cap(urgent)}: {offer}",
            f"Last chance for {offer} on {item}",
            f"Hurry, {offer} ends soon",
        ),
        "exclusive": (
            f"Members only: {offer}",
            f"Your private invitation: {offer} on {category}",
            f"Just for you, {offer}",
        ),
        "playful": (
            f"Treat yourself: {offer}",
            f"Psst… {offer} on {item}",
            f"Oh hello, {offer}!",
        ),
        "informative": (
            f"New in {category}: {offer}",
            f"{_cap(item)} are back in stock, with {offer}",
            f"This week in {category}: {offer}",
        ),
        "premium": (
            f"Discover our finest {item}, with {offer}",
            f"Crafted {category}, now with {offer}",
            f"The {category} edit: {offer}",
        ),
    }[tone]
    subject = subjects[variant % len(subjects)]
    if urgency and tone != "urgent":
        subject += f" ({urgency})"
    return subject


_OPENERS = {
    "friendly": ("We thought you'd like this.", "Good news from us."),
    "urgent": ("Don't miss out.", "Time is running out."),
    "exclusive": ("You're on our members' list.", "This offer isn't on our website."),
    "playful": ("Go on, you deserve it.", "Your basket is calling."),
    "informative": ("Here is what's new this week.", "Our latest range has just landed."),
    "premium": ("Made to last, chosen with care.", "Quality you can feel."),
}

_GREETINGS = {
    "none": "",
    "first_name": "Hi {first_name}! ",
    "browsing": "Because you browsed {category} recently, we picked this for you. ",
    "loyalty": "Thank you for being one of our valued members. ",
    "location": "Hello from your {city} store team. ",
}


class TemplateActionGenerator:
    """Varied marketing email texts from templates, offline and reproducible.

    Each text combines a product category and item, an offer type and depth
    (percentage or amount off, buy-one-get-one, free shipping, bundles,
    loyalty points, early access, a free gift), a tone, an urgency, a
    personalisation and a channel cue, rendered as
    ``"Subject: ... | Body: ..."``. Merge tags such as ``{first_name}`` are
    left in the text, as in a real email template. Millions of distinct
    texts are possible.

    Parameters
    ----------
    random_state : int, numpy.random.Generator or None, default=None
        Seeds :meth:`generate`: the same int gives the same texts on every
        call; a Generator is advanced; ``None`` draws fresh entropy.

    See Also
    --------
    LLMActionGenerator : Texts from a chat model, falling back to this class.

    Examples
    --------
    >>> from hillmix_sim import TemplateActionGenerator
    >>> gen = TemplateActionGenerator(random_state=0)
    >>> texts = gen.generate(3)
    >>> len(set(texts)), texts == gen.generate(3)
    (3, True)
    >>> texts[0].startswith("Subject: ") and " | Body: " in texts[0]
    True
    >>> new = gen.generate(3, exclude=texts)
    >>> set(new) & set(texts)
    set()
    """

    def __init__(self, *, random_state: RandomStateLike = None):
        self.random_state = random_state

    def generate(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        """Draw ``n`` distinct texts.

        Parameters
        ----------
        n : int
            Number of texts, at least 1.
        exclude : iterable of str, default=()
            Texts not to produce (compared ignoring case and spacing), such
            as the current bank.

        Returns
        -------
        texts : list of str of length n
        """
        n = check_n(n)
        rng = check_generator(self.random_state)
        seen = {normalise(text) for text in check_exclude(exclude)}
        texts: list[str] = []
        # Far more attempts than a healthy draw needs; only an n near the
        # number of possible texts comes close.
        max_attempts = 50 * n + 1000
        for _ in range(max_attempts):
            text = self._draw(rng)
            key = normalise(text)
            if key not in seen:
                seen.add(key)
                texts.append(text)
                if len(texts) == n:
                    return texts
        raise ValueError(
            f"Could only draw {len(texts)} distinct texts of the {n} asked for "
            f"in {max_attempts} attempts; ask for fewer or exclude fewer."
        )

    @staticmethod
    def _draw(rng: np.random.Generator) -> str:
        category, items, gift = _CATEGORIES[rng.integers(len(_CATEGORIES))]
        item = items[rng.integers(len(items))]
        tone = _TONES[rng.integers(len(_TONES))]
        # Two emails in five carry no deadline at all.
        urgency = None if rng.random() < 0.4 else _URGENCY[1 + rng.integers(len(_URGENCY) - 1)]
        personal = _PERSONALISATION[rng.integers(len(_PERSONALISATION))]
        cue = _CHANNEL_CUES[rng.integers(len(_CHANNEL_CUES))]
        variant = int(rng.integers(3))
        offer, sentence, code = _offer(rng, category, item, gift)

        subject = _subject(tone, variant, offer, item, category, urgency)
        if personal == "first_name":
            subject = "{first_name}, " + subject[:1].lower() + subject[1:]
        greeting = _GREETINGS[personal].replace("{category}", category)
        opener = _OPENERS[tone][variant % 2]
        body = f"{greeting}{opener} {sentence}"
        if urgency:
            body += f" Offer valid {urgency}."
        body += " " + cue.replace("{code}", code)
        return f"Subject: {subject} | Body: {body}"

    def __repr__(self) -> str:
        return f"TemplateActionGenerator(random_state={self.random_state!r})"
