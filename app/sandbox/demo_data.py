"""What the one-command demo seeds and what its simulated people say.

Everything here is fictional: companies on `.example` domains, phone numbers in
the 555-0100..0199 range that the NANP reserves for fiction, and names drawn
from common first and last names. Pure data and a seeded random generator; the
orchestration lives in `app.sandbox.demo`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["cars", "flooring"]
# Who speaks in a seeded history: the customer's phone, the staff member in the
# desktop app (staff API), or someone at the store answering on the store phone.
Speaker = Literal["customer", "staff", "store"]

# A fixed namespace makes every id stable across demo starts (handy in screenshots and docs).
_NS = uuid.UUID("6f1c2a56-8d0e-4c1b-9a57-3f2e0d4b7a10")


def stable_id(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


@dataclass(frozen=True)
class RetailerSeed:
    key: str
    name: str
    website: str
    kind: Kind

    @property
    def retailer_id(self) -> str:
        return stable_id(f"retailer:{self.key}")


@dataclass(frozen=True)
class LocationSeed:
    key: str
    retailer: str  # RetailerSeed.key
    name: str
    web2text_number: str  # the store's own texting phone
    store_number: str  # the showroom's main line
    timezone: str

    @property
    def location_id(self) -> str:
        return stable_id(f"location:{self.key}")


@dataclass(frozen=True)
class StaffSeed:
    staff_id: str
    name: str
    retailer: str  # RetailerSeed.key
    locations: tuple[str, ...]  # LocationSeed.key


RETAILERS: tuple[RetailerSeed, ...] = (
    RetailerSeed("lakeshore", "Lakeshore Motors", "https://www.lakeshoremotors.example", "cars"),
    RetailerSeed(
        "prairie", "Prairie Floor & Design", "https://www.prairiefloordesign.example", "flooring"
    ),
)

# New and pre-owned sales work out of one building and share one texting line
# (conversation rule 3: the same shopper writing to both is one conversation).
SHARED_NUMBER = "+18475550186"
LOCATIONS: tuple[LocationSeed, ...] = (
    LocationSeed(
        "lakeshore-new",
        "lakeshore",
        "Lakeshore Motors – New Vehicles",
        SHARED_NUMBER,
        "+18475550100",
        "America/Chicago",
    ),
    LocationSeed(
        "lakeshore-used",
        "lakeshore",
        "Lakeshore Motors – Pre-Owned",
        SHARED_NUMBER,
        "+18475550101",
        "America/Chicago",
    ),
    LocationSeed(
        "prairie-naperville",
        "prairie",
        "Prairie Floor & Design – Naperville",
        "+16305550163",
        "+16305550160",
        "America/Chicago",
    ),
)

STAFF: tuple[StaffSeed, ...] = (
    StaffSeed("demo-jordan", "Jordan Reyes", "lakeshore", ("lakeshore-new", "lakeshore-used")),
    StaffSeed("demo-priya", "Priya Nair", "prairie", ("prairie-naperville",)),
)


def retailer(key: str) -> RetailerSeed:
    return next(r for r in RETAILERS if r.key == key)


def location(key: str) -> LocationSeed:
    return next(loc for loc in LOCATIONS if loc.key == key)


def locations_of(retailer_key: str) -> list[LocationSeed]:
    return [loc for loc in LOCATIONS if loc.retailer == retailer_key]


def proxy_pool() -> list[str]:
    """The company's masked numbers, 555-0100..0199 in Chicago-area and nearby area codes.

    Each open conversation takes one proxy for the store's phone, and the
    store phone of a location may hold a given proxy in only one open
    conversation, so the pool must be larger than a location's open
    conversations (the demo adds a lead a minute for as long as it runs).
    """
    numbers: list[str] = []
    for npa, lines in (
        ("847", range(110, 160)),
        ("224", range(110, 150)),
        ("312", range(110, 140)),
        ("630", range(110, 150)),
        ("331", range(110, 140)),
        ("773", range(110, 130)),
        ("414", range(110, 120)),
        ("608", range(110, 120)),
    ):
        numbers.extend(f"+1{npa}5550{line}" for line in lines)
    stores = {loc.web2text_number for loc in LOCATIONS} | {loc.store_number for loc in LOCATIONS}
    return [n for n in numbers if n not in stores]


# ----------------------------------------------------------------- shoppers

FIRST_NAMES = (
    "Emily", "Marcus", "Sofia", "Daniel", "Aaliyah", "Tom", "Grace", "Luis", "Hannah", "Kevin",
    "Maya", "Brian", "Olivia", "Andre", "Chloe", "Raj", "Megan", "Carlos", "Nora", "Tyler",
    "Fatima", "Ryan", "Jessica", "Mateo", "Lauren", "Omar", "Rachel", "Ethan", "Ava", "Derek",
    "Isabel", "Jamal", "Katie", "Victor", "Zoe", "Sean", "Lily", "Hector", "Amy", "Noah",
    "Bianca", "Greg", "Leah", "Samir", "Paige", "Julian", "Tessa", "Wesley", "Dana", "Felix",
)  # fmt: skip
LAST_NAMES = (
    "Johnson", "Nguyen", "Kowalski", "Patel", "Garcia", "O'Brien", "Williams", "Haddad",
    "Schmidt", "Brooks", "Martinez", "Kim", "Novak", "Thompson", "Rossi", "Okafor", "Lindqvist",
    "Murphy", "Chen", "Dubois", "Reed", "Alvarez", "Fischer", "Hughes", "Sato", "Baker",
    "Jankowski", "Ramirez", "Foster", "Ivanova",
)  # fmt: skip
# Shoppers' own phones: fictional 555-01xx numbers in area codes around the stores.
CUSTOMER_AREA_CODES = ("847", "224", "312", "773", "630", "331", "708", "815")

CARS: tuple[tuple[str, str, str, str], ...] = (
    # brand, model, trim, page slug
    ("Toyota", "RAV4", "XLE Hybrid", "2025-toyota-rav4-xle-hybrid"),
    ("Toyota", "Camry", "SE", "2025-toyota-camry-se"),
    ("Honda", "CR-V", "EX-L", "2024-honda-cr-v-ex-l"),
    ("Honda", "Civic", "Sport Hatchback", "2025-honda-civic-sport-hatchback"),
    ("Ford", "F-150", "XLT SuperCrew", "2024-ford-f-150-xlt-supercrew"),
    ("Ford", "Bronco Sport", "Badlands", "2025-ford-bronco-sport-badlands"),
    ("Subaru", "Outback", "Onyx Edition", "2025-subaru-outback-onyx"),
    ("Hyundai", "Tucson", "SEL", "2025-hyundai-tucson-sel"),
    ("Kia", "Telluride", "EX", "2024-kia-telluride-ex"),
    ("Chevrolet", "Equinox", "LT", "2025-chevrolet-equinox-lt"),
    ("Mazda", "CX-5", "2.5 S Premium", "2024-mazda-cx-5-premium"),
    ("Jeep", "Grand Cherokee", "Limited 4x4", "2023-jeep-grand-cherokee-limited"),
)
FLOORING: tuple[tuple[str, str, str, str], ...] = (
    # brand, product, variant (colour/size), page slug
    ("Shaw", "Floorte Pro Paragon", "Natural Oak, 7 in. plank", "shaw-floorte-paragon-natural-oak"),
    ("Mohawk", "RevWood Plus", "Hampshire Oak", "mohawk-revwood-plus-hampshire-oak"),
    ("COREtec", "Plus Enhanced", "Calypso Oak", "coretec-plus-enhanced-calypso-oak"),
    ("Karastan", "Kashmere Carpet", "Silver Birch", "karastan-kashmere-silver-birch"),
    ("Daltile", "Porcelain Tile", "Volume 1.0 Ash Grey, 12x24", "daltile-volume-ash-grey-12x24"),
    ("Bruce", "Hydropel Hardwood", "Sandy Brown", "bruce-hydropel-sandy-brown"),
    ("Armstrong", "Luxe Plank", "Rustic Hickory", "armstrong-luxe-plank-rustic-hickory"),
    ("Anderson Tuftex", "Vintage Hardwood", "Chestnut", "anderson-tuftex-vintage-chestnut"),
)

# utm-style traffic: (Source, Medium, Campaign, Type)
TRAFFIC: tuple[tuple[str, str, str, str], ...] = (
    ("google", "cpc", "spring-sales-event", "Paid Search"),
    ("google", "organic", "", "Organic Search"),
    ("facebook", "paid-social", "weekend-deals", "Paid Social"),
    ("instagram", "social", "", "Organic Social"),
    ("newsletter", "email", "monthly-offers", "Email"),
    ("(direct)", "(none)", "", "Direct"),
    ("bing", "cpc", "brand-terms", "Paid Search"),
)
CARS_REFERRERS = (
    ("cars.com", "referral", "", "Referral"),
    ("autotrader", "referral", "", "Referral"),
)
FLOORING_REFERRERS = (("houzz", "referral", "", "Referral"), ("yelp", "referral", "", "Referral"))

CAR_FIRST_MESSAGES = (
    "Is the {model} {trim} still available?",
    "Hi! Can I set up a test drive of the {model} this weekend?",
    "What's the best out-the-door price on the {model} {trim}?",
    "Do you have the {model} in a darker color?",
    "I have a 2017 Civic to trade in. What could I get for it toward the {model}?",
    "Is there any financing special on the {model} right now?",
    "Can you text me the window sticker for the {model} {trim}?",
)
FLOORING_FIRST_MESSAGES = (
    "Do you have {product} in {variant} in stock? About 600 sq ft.",
    "Can someone come measure our kitchen and living room for {product}?",
    "Is {product} ok for a basement with a sump pump?",
    "What does {product} cost installed, roughly? Two bedrooms, 350 sq ft.",
    "Can I pick up a sample of {variant}?",
    "Do you price match? I saw {product} cheaper online.",
)

CAR_REPLIES = (
    "Great, thanks!",
    "Saturday morning works for me.",
    "Can you do any better on the price?",
    "What time do you close tonight?",
    "Does it come with all-weather mats?",
    "Ok, I'll bring my trade in.",
    "Is the price the same if I finance through my credit union?",
    "Perfect. See you then 👍",
    "My wife wants to see it too, can we come at 5?",
    "How many miles are on it?",
)
FLOORING_REPLIES = (
    "Thanks! Tuesday after 3 is best for the measure.",
    "Do you haul away the old carpet?",
    "How long does install usually take?",
    "Ok that works for us.",
    "Can I see it in a lighter shade too?",
    "Is there a warranty against pets scratching it?",
    "Great, I'll stop by for samples Saturday.",
    "Sounds good, thank you!",
    "What about the stairs? Do you do those?",
)
STORE_REPLIES = (
    "This is Mike at the store, I can help you with that.",
    "Just checked, we have it on the lot. Come by anytime today.",
    "We're open until 8 tonight.",
    "Yes, we can do that. What time works?",
    "Thanks for reaching out! I'll call you in a few minutes.",
    "Good question — let me check with my manager and text you back.",
)
STAFF_LINES_CARS = (
    "Hi {first}, this is {staff} at Lakeshore Motors. Yes, the {model} is here and ready.",
    "Happy to set up a test drive, {first}. Does Saturday at 10 or 2 work better?",
    "I'll send over the numbers in a few minutes. Are you paying cash or financing?",
    "We have one in Midnight Black too. Want me to hold it for you?",
    "For your trade, bring it by and we'll do an appraisal in about 20 minutes.",
)
STAFF_LINES_FLOORING = (
    "Hi {first}, this is {staff} at Prairie Floor & Design. We do have {variant} in stock.",
    "We can measure for free. Does Tuesday or Thursday afternoon work?",
    "Installed it's usually between $6 and $8 per sq ft, depending on prep.",
    "Yes, samples are at the front desk — grab as many as you like.",
    "We haul away and recycle the old flooring at no extra charge.",
)
LOST_REASONS = ("Bought elsewhere", "Not ready yet", "Price")
NOTES = (
    "Prefers texts after 5 pm.",
    "Has a trade-in; bring appraisal sheet.",
    "Wants financing options.",
    "Asked for a callback from a manager.",
    "Measure scheduled; confirm day before.",
    "Comparing with a competitor's quote.",
)


@dataclass
class Step:
    """One line of a seeded conversation history."""

    speaker: Speaker
    text: str


@dataclass
class LeadSeed:
    """One website lead plus what happened afterwards (the seeded history)."""

    lead_id: str
    location_key: str
    name: str
    phone: str
    message: str
    page_url: str
    brand: str
    product: str
    variant: str
    traffic: tuple[str, str, str, str]
    preferred: str = "text"
    history: list[Step] = field(default_factory=list)
    pipeline: str | None = None  # PATCH /v1/leads status after the history
    note: str | None = None
    assign_to_staff: bool = False
    # How this simulated customer behaves while the demo runs.
    replies: list[str] = field(default_factory=list)
    texts_stop: bool = False

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def create_body(self, retailer_id: str, location_id: str) -> dict[str, Any]:
        """The website's `POST /Lead/{LeadId}/create` body (DESIGN.md, lead service)."""
        source, medium, campaign, kind = self.traffic
        traffic = {"Source": source, "Medium": medium, "Type": kind}
        if campaign:
            traffic["Campaign"] = campaign
        return {
            "LeadType": "WEB2TEXT",
            "UniversalRetailerId": retailer_id,
            "SyncImmediately": True,
            "Lead": {
                "LocationId": location_id,
                "PageUrl": self.page_url,
                "IPAddress": "203.0.113." + str(int(self.phone[-2:]) + 10),  # TEST-NET-3
                "Name": self.name,
                "PhoneNumber": self.phone,
                "PreferredMethodOfContact": self.preferred,
                "CustomerMessage": self.message,
                "AssociatedProductInfo": {
                    "Brand": self.brand,
                    "Product": self.product,
                    "Variant": self.variant,
                },
                "Traffic": traffic,
            },
        }


class Shoppers:
    """Draws distinct fictional shoppers (name + phone) from a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._phones: set[str] = set()
        self._names: set[str] = set()

    def phone(self) -> str:
        for _ in range(10_000):
            number = f"+1{self.rng.choice(CUSTOMER_AREA_CODES)}5550{self.rng.randint(100, 199)}"
            if number not in self._phones and number not in _RESERVED:
                self._phones.add(number)
                return number
        raise RuntimeError("ran out of fictional phone numbers")

    def name(self) -> str:
        for _ in range(10_000):
            name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
            if name not in self._names:
                self._names.add(name)
                return name
        raise RuntimeError("ran out of names")


_RESERVED = {loc.web2text_number for loc in LOCATIONS} | {loc.store_number for loc in LOCATIONS}
_RESERVED |= set(proxy_pool())


def new_lead(
    rng: random.Random, shoppers: Shoppers, location_key: str, *, phone: str | None = None,
    name: str | None = None,
) -> LeadSeed:
    """A fresh website lead for `location_key` (no history yet)."""
    loc = location(location_key)
    kind = retailer(loc.retailer).kind
    site = retailer(loc.retailer).website
    if kind == "cars":
        brand, product, variant, slug = rng.choice(CARS)
        section = "used" if location_key.endswith("used") else "new"
        page = f"{site}/{section}/{slug}"
        message = rng.choice(CAR_FIRST_MESSAGES).format(model=product, trim=variant)
        traffic = rng.choice(TRAFFIC + CARS_REFERRERS)
        replies = rng.sample(CAR_REPLIES, k=rng.randint(2, 4))
    else:
        brand, product, variant, slug = rng.choice(FLOORING)
        page = f"{site}/products/{slug}"
        message = rng.choice(FLOORING_FIRST_MESSAGES).format(product=product, variant=variant)
        traffic = rng.choice(TRAFFIC + FLOORING_REFERRERS)
        replies = rng.sample(FLOORING_REPLIES, k=rng.randint(2, 4))
    return LeadSeed(
        lead_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        location_key=location_key,
        name=name or shoppers.name(),
        phone=phone or shoppers.phone(),
        message=message,
        page_url=page,
        brand=brand,
        product=product,
        variant=variant,
        traffic=traffic,
        preferred="phone" if rng.random() < 0.1 else "text",
        replies=replies,
    )


def _history(rng: random.Random, lead: LeadSeed, staff_name: str, depth: int) -> list[Step]:
    kind = retailer(location(lead.location_key).retailer).kind
    staff_lines = STAFF_LINES_CARS if kind == "cars" else STAFF_LINES_FLOORING
    fields = {
        "first": lead.first_name,
        "staff": staff_name.split()[0],
        "model": lead.product,
        "variant": lead.variant,
    }
    steps: list[Step] = []
    replies = list(lead.replies)
    for i in range(depth):
        if i % 2 == 0:
            speaker: Speaker = "staff" if rng.random() < 0.8 else "store"
            if speaker == "staff":
                text = staff_lines[min(i // 2, len(staff_lines) - 1)].format(**fields)
            else:
                text = rng.choice(STORE_REPLIES)
            steps.append(Step(speaker, text))
        elif replies:
            steps.append(Step("customer", replies.pop(0)))
    lead.replies = replies  # what is left is said live, after staff write again
    return steps


def build_seed(seed: int = 7, leads: int = 40) -> list[LeadSeed]:
    """The demo's starting leads: about `leads` of them, most with a history.

    Mixes every situation the inbox shows: brand-new leads, conversations in
    progress, appointments, won and lost deals, a customer who asked about a
    car at both locations sharing one number (one conversation), a shopper who
    submitted twice (one conversation), and one who will text STOP.
    """
    rng = random.Random(seed)
    shoppers = Shoppers(rng)
    staff_by_location = {loc: s for s in STAFF for loc in s.locations}
    weights = {"lakeshore-new": 0.45, "lakeshore-used": 0.3, "prairie-naperville": 0.25}
    out: list[LeadSeed] = []
    keys = list(weights)
    for i in range(leads - 2):
        key = rng.choices(keys, weights=[weights[k] for k in keys])[0]
        lead = new_lead(rng, shoppers, key)
        # A third are untouched new leads (bold in the inbox), the rest have a history.
        depth = 0 if i % 3 == 0 else rng.randint(1, 5)
        _give_history(rng, lead, staff_by_location[key].name, depth)
        out.append(lead)
    out += _shared_number_twins(rng, shoppers)
    out += _double_submission(rng, shoppers)
    _pick_quitter(out, staff_by_location)
    return out


def _give_history(rng: random.Random, lead: LeadSeed, staff_name: str, depth: int) -> None:
    """`depth` steps of conversation, and the pipeline stage, note and owner they imply."""
    lead.history = _history(rng, lead, staff_name, depth)
    if depth == 0:
        lead.pipeline = None
        if rng.random() < 0.5:  # the shopper already wrote back to the greeting
            lead.history = [Step("customer", lead.replies.pop(0))]
    elif depth <= 2:
        lead.pipeline = "contacted"
    elif depth <= 4:
        lead.pipeline = rng.choice(["engaged", "engaged", "appointment"])
    else:
        lead.pipeline = rng.choice(["appointment", "won", "lost"])
    if lead.pipeline and rng.random() < 0.35:
        lead.note = rng.choice(NOTES)
    lead.assign_to_staff = lead.pipeline is not None and rng.random() < 0.6
    if lead.history:
        lead.preferred = "text"  # they have been texting, whatever the form said


def _shared_number_twins(rng: random.Random, shoppers: Shoppers) -> list[LeadSeed]:
    """Rule 3: one shopper asks about a new car and a pre-owned one; both
    locations share one texting number, so both leads land in one conversation."""
    twin_phone, twin_name = shoppers.phone(), "Grace Whitfield"
    first = new_lead(rng, shoppers, "lakeshore-new", phone=twin_phone, name=twin_name)
    second = new_lead(rng, shoppers, "lakeshore-used", phone=twin_phone, name=twin_name)
    first.history = [Step("customer", "I'm also looking at a used one, sending another form.")]
    return [first, second]


def _double_submission(rng: random.Random, shoppers: Shoppers) -> list[LeadSeed]:
    """Rule 1: the same shopper submits the same store's form twice: one conversation."""
    again = new_lead(rng, shoppers, "prairie-naperville")
    again.message = "Sorry, sent this twice! Still interested in " + again.product + "."
    repeat = LeadSeed(
        **{
            **again.__dict__,
            "lead_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "message": "Following up on my request about " + again.product + ".",
            "history": [],
            "replies": [],
        }
    )
    return [again, repeat]


def _pick_quitter(out: list[LeadSeed], staff_by_location: dict[str, StaffSeed]) -> None:
    """The one who opts out: staff wrote to them once, and a few seconds into the
    demo they answer STOP (the conversation then shows as opted out)."""
    candidates = [lead for lead in out[:-4] if lead.location_key != "prairie-naperville"]
    quitter = next((lead for lead in candidates if not lead.history), None)
    quitter = quitter or (candidates or out)[0]
    staff = staff_by_location[quitter.location_key]
    lines = STAFF_LINES_CARS if quitter.location_key.startswith("lakeshore") else (
        STAFF_LINES_FLOORING
    )
    quitter.history = [
        Step("staff", lines[0].format(
            first=quitter.first_name, staff=staff.name.split()[0],
            model=quitter.product, variant=quitter.variant,
        ))
    ]  # fmt: skip
    quitter.pipeline = "contacted"
    quitter.texts_stop = True
