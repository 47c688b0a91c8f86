"""The raw material of the demo marketplace: skills, places, names and text templates.

Plain data plus small composing functions that draw from a ``random.Random``,
so ``seed_demo`` produces the same marketplace on every machine.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass

# --- Skills: ~80 normalised tags in seven fields ------------------------------------

SKILLS_BY_FIELD: dict[str, tuple[str, ...]] = {
    "tech": (
        "python", "django", "javascript", "typescript", "react", "vue", "node.js", "go", "rust", "java",
        "kotlin", "swift", "ios", "android", "aws", "gcp", "azure", "kubernetes", "docker", "terraform",
        "postgresql", "data-engineering", "machine-learning", "llm", "data-science", "devops", "security",
        "system-design",
    ),
    "design": (
        "ui-design", "ux-research", "figma", "product-design", "branding", "illustration", "motion-design",
        "web-design", "design-systems", "accessibility",
    ),
    "marketing": (
        "seo", "content-marketing", "growth", "paid-ads", "social-media", "email-marketing", "copywriting",
        "product-marketing", "analytics", "brand-strategy",
    ),
    "finance": (
        "bookkeeping", "tax", "fundraising", "financial-modeling", "cfo-services", "accounting", "valuation",
        "personal-finance", "crypto", "ifrs",
    ),
    "law": (
        "contract-law", "gdpr", "employment-law", "startup-law", "intellectual-property", "immigration",
        "corporate-law", "privacy",
    ),
    "languages": (
        "english", "spanish", "german", "french", "japanese", "mandarin", "italian", "portuguese", "ielts",
        "business-english",
    ),
    "coaching": (
        "career-coaching", "leadership", "executive-coaching", "interview-prep", "public-speaking",
        "productivity", "negotiation", "product-management", "agile", "startup-mentoring",
    ),
}  # fmt: skip

# How many experts of each field the marketplace has, relative to each other.
FIELD_WEIGHTS: dict[str, int] = {
    "tech": 34,
    "design": 13,
    "marketing": 13,
    "finance": 11,
    "law": 8,
    "languages": 10,
    "coaching": 11,
}

# Typical hourly rate of a field in US dollars (low, high).
FIELD_RATES_USD: dict[str, tuple[int, int]] = {
    "tech": (60, 250),
    "design": (45, 180),
    "marketing": (40, 170),
    "finance": (70, 300),
    "law": (120, 450),
    "languages": (20, 80),
    "coaching": (60, 320),
}

# How a tag reads in a sentence; tags not listed read as their words ("machine learning").
SKILL_LABELS: dict[str, str] = {
    "python": "Python", "django": "Django", "javascript": "JavaScript", "typescript": "TypeScript",
    "react": "React", "vue": "Vue", "node.js": "Node.js", "go": "Go", "rust": "Rust", "java": "Java",
    "kotlin": "Kotlin", "swift": "Swift", "ios": "iOS", "android": "Android", "aws": "AWS", "gcp": "GCP",
    "azure": "Azure", "kubernetes": "Kubernetes", "docker": "Docker", "terraform": "Terraform",
    "postgresql": "PostgreSQL", "llm": "LLM", "devops": "DevOps", "ui-design": "UI design",
    "ux-research": "UX research", "figma": "Figma", "seo": "SEO", "cfo-services": "CFO services", "ifrs": "IFRS",
    "gdpr": "GDPR", "english": "English", "spanish": "Spanish", "german": "German", "french": "French",
    "japanese": "Japanese", "mandarin": "Mandarin", "italian": "Italian", "portuguese": "Portuguese",
    "ielts": "IELTS", "business-english": "business English", "agile": "Agile",
}  # fmt: skip

LANGUAGE_SKILL_CODES: dict[str, str] = {
    "english": "en", "spanish": "es", "german": "de", "french": "fr", "japanese": "ja",
    "mandarin": "zh", "italian": "it", "portuguese": "pt", "ielts": "en", "business-english": "en",
}  # fmt: skip


def skill_label(tag: str) -> str:
    """'machine-learning' -> 'machine learning', 'postgresql' -> 'PostgreSQL'."""
    return SKILL_LABELS.get(tag, tag.replace("-", " "))


def sentence(template: str, values: dict[str, object]) -> str:
    """The filled-in template with its first letter capitalised ("seo audit" -> "SEO audit" stays)."""
    text = template.format(**values)
    return text[0].upper() + text[1:]


# --- Places: where experts and clients live, what they speak and bill in -----------


@dataclass(frozen=True, slots=True)
class Locale:
    weight: int
    currency: str
    # How many units of ``currency`` one US dollar buys, roughly: rates look local.
    per_usd: float
    timezones: tuple[str, ...]
    languages: tuple[str, ...]
    cities: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


LOCALES: tuple[Locale, ...] = (
    Locale(
        26, "USD", 1.0,
        ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"), ("en", "es"),
        ("New York", "Austin", "Chicago", "San Francisco", "Seattle", "Denver", "Boston"),
        ("James", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Ashley", "Ryan", "Megan",
         "Chris", "Lauren", "Tyler", "Rachel", "Brandon", "Olivia"),
        ("Smith", "Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Moore",
         "Jackson", "Martin", "Lee", "Thompson", "Harris", "Clark"),
    ),
    Locale(
        12, "GBP", 0.79, ("Europe/London",), ("en",),
        ("London", "Manchester", "Bristol", "Edinburgh", "Leeds", "Brighton"),
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Freya", "Charlie", "Poppy"),
        ("Jones", "Evans", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Green", "Hall", "Wood"),
    ),
    Locale(
        10, "EUR", 0.92, ("Europe/Berlin",), ("de", "en"),
        ("Berlin", "Munich", "Hamburg", "Cologne", "Leipzig"),
        ("Lukas", "Hannah", "Felix", "Lena", "Jonas", "Marie", "Paul", "Sophie", "Leon", "Mia"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch"),
    ),
    Locale(
        8, "EUR", 0.92, ("Europe/Paris",), ("fr", "en"),
        ("Paris", "Lyon", "Nantes", "Bordeaux", "Lille"),
        ("Louis", "Camille", "Hugo", "Léa", "Jules", "Chloé", "Arthur", "Manon", "Gabriel", "Inès"),
        ("Martin", "Bernard", "Dubois", "Laurent", "Moreau", "Lefèvre", "Girard", "Roux", "Fournier"),
    ),
    Locale(
        7, "EUR", 0.92, ("Europe/Madrid",), ("es", "en", "ca"),
        ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao"),
        ("Lucía", "Hugo", "Martina", "Mateo", "Paula", "Pablo", "Sofía", "Álvaro", "Carmen", "Diego"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Romero", "Navarro"),
    ),
    Locale(
        5, "EUR", 0.92, ("Europe/Amsterdam", "Europe/Brussels"), ("nl", "en", "de"),
        ("Amsterdam", "Rotterdam", "Utrecht", "Antwerp", "Ghent"),
        ("Daan", "Emma", "Sem", "Julia", "Lars", "Sanne", "Bram", "Fleur", "Thijs", "Noor"),
        ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Peeters", "Maes", "Smit"),
    ),
    Locale(
        4, "EUR", 0.92, ("Europe/Rome",), ("it", "en"),
        ("Milan", "Rome", "Turin", "Bologna", "Florence"),
        ("Giulia", "Lorenzo", "Chiara", "Matteo", "Francesca", "Alessandro", "Sara", "Marco"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    ),
    Locale(
        5, "CAD", 1.37, ("America/Toronto", "America/Vancouver"), ("en", "fr"),
        ("Toronto", "Vancouver", "Montreal", "Ottawa", "Calgary"),
        ("Liam", "Charlotte", "Noah", "Chloe", "Ethan", "Maya", "Owen", "Zoe"),
        ("Tremblay", "Roy", "Gagnon", "MacDonald", "Campbell", "Wong", "Leblanc", "Stewart"),
    ),
    Locale(
        4, "AUD", 1.52, ("Australia/Sydney", "Australia/Melbourne"), ("en",),
        ("Sydney", "Melbourne", "Brisbane", "Perth"),
        ("Jack", "Matilda", "Cooper", "Ruby", "Lachlan", "Sienna", "Riley", "Grace"),
        ("Kelly", "Nguyen", "Ryan", "Mitchell", "Murphy", "Cooper", "Bell", "Ward"),
    ),
    Locale(
        3, "CHF", 0.88, ("Europe/Zurich",), ("de", "fr", "en", "it"),
        ("Zurich", "Geneva", "Basel", "Lausanne"),
        ("Luca", "Lara", "Noah", "Anna", "Elias", "Nina", "Jan", "Alina"),
        ("Meier", "Keller", "Huber", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann"),
    ),
    Locale(
        3, "SEK", 10.5, ("Europe/Stockholm",), ("sv", "en"),
        ("Stockholm", "Gothenburg", "Malmö", "Uppsala"),
        ("Astrid", "William", "Elsa", "Hugo", "Alva", "Oscar", "Ebba", "Axel"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Lindqvist", "Berg"),
    ),
    Locale(
        3, "PLN", 3.95, ("Europe/Warsaw",), ("pl", "en"),
        ("Warsaw", "Kraków", "Wrocław", "Gdańsk"),
        ("Jakub", "Zuzanna", "Kacper", "Julia", "Szymon", "Maja", "Filip", "Zofia"),
        ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamiński", "Lewandowska", "Zieliński", "Szymańska"),
    ),
    Locale(
        6, "INR", 83.0, ("Asia/Kolkata",), ("en", "hi"),
        ("Bengaluru", "Mumbai", "Pune", "Hyderabad", "Delhi", "Chennai"),
        ("Aarav", "Ananya", "Vihaan", "Diya", "Arjun", "Isha", "Rohan", "Priya", "Kabir", "Meera"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Mehta", "Rao", "Kapoor", "Das"),
    ),
    Locale(
        3, "JPY", 150.0, ("Asia/Tokyo",), ("ja", "en"),
        ("Tokyo", "Osaka", "Kyoto", "Fukuoka"),
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
    ),
    Locale(
        3, "USD", 1.0, ("America/Sao_Paulo",), ("pt", "en", "es"),
        ("São Paulo", "Rio de Janeiro", "Belo Horizonte", "Florianópolis"),
        ("Gabriel", "Beatriz", "Lucas", "Mariana", "Rafael", "Larissa", "Thiago", "Camila"),
        ("Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira"),
    ),
)  # fmt: skip

SECOND_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "zh", "ja", "ar", "ru", "nl")


# --- Text templates -------------------------------------------------------------

HEADLINES: dict[str, tuple[str, ...]] = {
    "tech": (
        "Senior {s1} engineer helping teams ship faster",
        "{s1} and {s2} consultant with {years}+ years in production",
        "Staff engineer: {s1}, {s2} and pragmatic architecture",
        "I unblock {s1} projects in a single session",
        "Former {company} tech lead, {s1} specialist",
        "{s1} mentor for developers levelling up",
    ),
    "design": (
        "{s1} lead who turns messy flows into clear products",
        "Product designer: {s1}, {s2} and research that sticks",
        "{years} years of {s1} for startups and scale-ups",
        "Design critiques and {s1} reviews that move metrics",
    ),
    "marketing": (
        "{s1} strategist for B2B SaaS",
        "Growth marketer: {s1} and {s2} on a startup budget",
        "I help founders find their first 1,000 customers with {s1}",
        "Former {company} marketer, {s1} and {s2}",
    ),
    "finance": (
        "Fractional CFO: {s1} and {s2} for early-stage startups",
        "Chartered accountant, {s1} without the jargon",
        "{s1} expert who has closed {rounds} funding rounds",
        "{years} years in {s1}: numbers investors trust",
    ),
    "law": (
        "{s1} lawyer for founders and small teams",
        "Practical {s1} advice, {years} years at the bar",
        "Startup counsel: {s1}, {s2} and term sheets",
        "{s1} and {s2}, explained in plain language",
    ),
    "languages": (
        "Certified {s1} teacher, conversation-first lessons",
        "{s1} coach for professionals and expats",
        "Native speaker teaching {s1} and {s2}",
        "Pass your exam: {s1} tutor with {years} years of results",
    ),
    "coaching": (
        "{s1} for first-time managers",
        "Executive coach: {s1}, {s2} and hard conversations",
        "Former {company} manager, {s1} and career moves",
        "{s1} coach who has helped {clients}+ people land their next role",
    ),
}

BIO_OPENERS = (
    "I have spent {years} years working on {s1}, most recently at {company}.",
    "Based in {city}, I have helped more than {clients} clients with {s1} and {s2}.",
    "For the past {years} years I have been the person teams call when {s1} gets hard.",
    "I started out in {origin} and moved into {s1} {years} years ago.",
    "I am a {city}-based specialist in {s1}, with a background at {company}.",
)
BIO_MIDDLES = (
    "My sessions are hands-on: we look at your actual {artefact} and leave with a concrete plan.",
    "I focus on {s2} as much as {s1}, because the two rarely fail independently.",
    "Clients usually come to me before a launch, a funding round or a hard deadline.",
    "I work best with small teams that need senior judgement without a full-time hire.",
    "Expect direct feedback, clear priorities and follow-up notes after every call.",
    "I have mentored {clients} people and still enjoy the first 'aha' moment most.",
)
BIO_CLOSERS = (
    "Send me a short description of your situation when you book and I will come prepared.",
    "Book a 30-minute intro if you are not sure I am the right fit.",
    "Longer sessions work well for deep dives; short ones for quick unblocking.",
    "Outside work I {hobby}.",
)
COMPANIES = (
    "Stripe", "Spotify", "Shopify", "Atlassian", "a Big Four firm", "Booking.com", "Zalando", "a Series B fintech",
    "a YC startup", "Google", "Airbnb", "Klarna", "N26", "Deliveroo", "Canva", "a magic circle law firm",
)  # fmt: skip
ORIGINS = ("physics", "journalism", "banking", "teaching", "music", "consulting", "the military", "retail")
ARTEFACTS = ("code", "designs", "funnel", "model", "contract", "pitch deck", "roadmap", "draft")
HOBBIES = (
    "climb, badly but happily",
    "run a small book club",
    "bake sourdough",
    "sail whenever the wind allows",
    "volunteer as a mentor for students",
    "play jazz piano",
)

TOPICS: dict[str, tuple[str, ...]] = {
    "tech": (
        "Code review of our {s1} service",
        "Architecture review before launch",
        "Debugging a production {s1} issue",
        "Scaling plan for {s1}",
        "Pairing session on {s1}",
        "Interview preparation: {s1} system design",
    ),
    "design": ("Feedback on our onboarding flow", "{s1} critique", "Setting up a design system", "Portfolio review"),
    "marketing": ("{s1} audit", "Launch plan review", "Positioning workshop", "Channel strategy for Q{quarter}"),
    "finance": ("Financial model review", "{s1} questions", "Preparing for a seed round", "Year-end planning"),
    "law": ("Review of a client contract", "{s1} compliance check", "Term sheet walkthrough", "Hiring abroad"),
    "languages": ("Conversation practice", "{s1} exam preparation", "Presentation rehearsal", "Grammar clinic"),
    "coaching": ("Preparing for a promotion case", "{s1} session", "Salary negotiation", "Quarterly goals"),
}

REVIEW_COMMENTS: dict[int, tuple[str, ...]] = {
    5: (
        "Exceptional. Clear, practical advice and a concrete plan within the hour.",
        "Knew exactly what to ask. Saved us weeks.",
        "Best session I have booked on ExpertHub so far. Booking again.",
        "Patient, sharp and well prepared. Highly recommended.",
        "",
    ),
    4: (
        "Very helpful, a few points were more generic than I hoped.",
        "Great session, ran a little over time but worth it.",
        "Solid advice and good follow-up notes.",
        "",
    ),
    3: ("Useful, but we spent too long on basics.", "Okay overall; the second half was the valuable part."),
    2: ("Felt rushed and not very tailored to our case.", "Started late and stayed high level."),
    1: ("Did not address my question at all.",),
}
RATING_WEIGHTS = {5: 52, 4: 30, 3: 11, 2: 5, 1: 2}

DURATIONS = (30, 45, 60, 60, 60, 90, 90, 120, 180)


# --- Composition ----------------------------------------------------------------


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def pick_locale(rng: random.Random) -> Locale:
    return rng.choices(LOCALES, weights=[locale.weight for locale in LOCALES])[0]


def person_name(rng: random.Random, locale: Locale) -> str:
    return f"{rng.choice(locale.first_names)} {rng.choice(locale.last_names)}"


def demo_email(name: str, number: int, kind: str) -> str:
    """'Léa Dubois', 17, 'client' -> 'lea.dubois.client17@example.com' (example.com never delivers mail)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z]+", ".", ascii_name.lower()).strip(".")
    return f"{slug}.{kind}{number}@example.com"


def pick_skills(rng: random.Random, field: str) -> list[str]:
    """Two to six skills of the expert's field, sometimes one from a neighbouring field."""
    skills = rng.sample(SKILLS_BY_FIELD[field], rng.randint(2, min(6, len(SKILLS_BY_FIELD[field]))))
    if rng.random() < 0.25:
        other = rng.choice([f for f in SKILLS_BY_FIELD if f != field])
        skills.append(rng.choice(SKILLS_BY_FIELD[other]))
    return skills


def pick_languages(rng: random.Random, locale: Locale, skills: list[str]) -> list[str]:
    """The locale's first language, often English, sometimes one more; a language teacher speaks it."""
    languages = [locale.languages[0]]
    languages += [code for code in locale.languages[1:] if rng.random() < 0.6]
    if rng.random() < 0.15:
        languages.append(rng.choice(SECOND_LANGUAGES))
    languages += [LANGUAGE_SKILL_CODES[s] for s in skills if s in LANGUAGE_SKILL_CODES]
    return list(dict.fromkeys(languages))


def hourly_rate_minor(rng: random.Random, field: str, locale: Locale, *, exponent: int) -> int:
    """A local-looking hourly rate in minor units: rounded to 5 (or 500 yen, 100 rupees)."""
    low, high = FIELD_RATES_USD[field]
    local = rng.triangular(low, high, low + (high - low) * 0.35) * locale.per_usd
    step = 5 if locale.per_usd < 20 else 100 if locale.per_usd < 120 else 500
    return max(step, round(local / step) * step) * 10**exponent


def text_values(rng: random.Random, skills: list[str], locale: Locale) -> dict[str, object]:
    """Values for every placeholder of the headline, bio and topic templates."""
    return {
        "s1": skill_label(skills[0]),
        "s2": skill_label(skills[1] if len(skills) > 1 else skills[0]),
        "years": rng.randint(4, 25),
        "clients": rng.choice((40, 60, 80, 120, 150, 200, 300)),
        "rounds": rng.randint(3, 30),
        "company": rng.choice(COMPANIES),
        "city": rng.choice(locale.cities),
        "origin": rng.choice(ORIGINS),
        "artefact": rng.choice(ARTEFACTS),
        "hobby": rng.choice(HOBBIES),
        "quarter": rng.randint(1, 4),
    }


def headline(rng: random.Random, field: str, values: dict[str, object]) -> str:
    return sentence(rng.choice(HEADLINES[field]), values)[:120]


def bio(rng: random.Random, values: dict[str, object]) -> str:
    """Three to five sentences: an opener, one or two middles, sometimes a closer or two."""
    sentences = [rng.choice(BIO_OPENERS), *rng.sample(BIO_MIDDLES, rng.randint(1, 2))]
    sentences += rng.sample(BIO_CLOSERS, rng.randint(0, 2))
    return " ".join(sentence(s, values) for s in sentences)


def topic(rng: random.Random, field: str, values: dict[str, object]) -> str:
    return sentence(rng.choice(TOPICS[field]), values)


def review(rng: random.Random, quality: float) -> tuple[int, str]:
    """A rating skewed by the expert's quality (-1 worse .. +1 better) and a matching comment."""
    ratings = list(RATING_WEIGHTS)
    weights = [w * (1 + quality * (r - 3) / 2) for r, w in RATING_WEIGHTS.items()]
    rating = rng.choices(ratings, weights=[max(w, 0.1) for w in weights])[0]
    return rating, rng.choice(REVIEW_COMMENTS[rating])
