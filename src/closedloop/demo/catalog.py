"""Reference data of the demo: attribute catalogue, product category tree, consent texts.

The tables are compact text (one entry a line, ``|`` between fields, indented lines belong to
the entry above) parsed once at import. Labels are given in English and French (and German for
attributes); codes are stable, so a second ``seed demo --append`` reuses what the first made.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# code|group|type|applies to|labels en|fr|de, then its choices: code|en|fr|de
_ATTRIBUTES = """
marital_status|demographic|choice|person|Marital status|Situation familiale|Familienstand
  single|Single|Célibataire|Ledig
  married|Married|Marié(e)|Verheiratet
  partnership|Civil partnership|Pacsé(e)|Lebenspartnerschaft
  divorced|Divorced|Divorcé(e)|Geschieden
  widowed|Widowed|Veuf, veuve|Verwitwet
children_count|demographic|number|person|Number of children|Nombre d'enfants|Anzahl Kinder
income_band|demographic|choice|person|Household income|Revenu du foyer|Haushaltseinkommen
  low|Low|Modeste|Niedrig
  lower_middle|Lower middle|Moyen inférieur|Untere Mitte
  middle|Middle|Moyen|Mitte
  upper_middle|Upper middle|Moyen supérieur|Obere Mitte
  high|High|Élevé|Hoch
lifestyle|psychographic|choice|person|Lifestyle|Style de vie|Lebensstil
  traditional|Traditional|Traditionnel|Traditionell
  achiever|Achiever|Ambitieux|Leistungsorientiert
  experiencer|Experience seeker|Amateur d'expériences|Erlebnisorientiert
  eco_conscious|Eco-conscious|Éco-responsable|Umweltbewusst
  tech_enthusiast|Tech enthusiast|Technophile|Technikbegeistert
  homebody|Homebody|Casanier|Häuslich
price_sensitivity|psychographic|choice|person|Price sensitivity|Sensibilité au prix|Preissensibilität
  bargain_hunter|Bargain hunter|Chasseur de promotions|Schnäppchenjäger
  value_seeker|Value seeker|Rapport qualité-prix|Preis-Leistungs-orientiert
  premium_buyer|Premium buyer|Acheteur premium|Premiumkäufer
interests|interests|multi_choice|person|Interests|Centres d'intérêt|Interessen
  reading|Reading|Lecture|Lesen
  music|Music|Musique|Musik
  technology|Technology|Technologie|Technik
  cooking|Cooking|Cuisine|Kochen
  gardening|Gardening|Jardinage|Gärtnern
  sports|Sports|Sport|Sport
  fashion|Fashion|Mode|Mode
  family|Family activities|Activités en famille|Familie
  travel|Travel|Voyages|Reisen
  diy|Do it yourself|Bricolage|Heimwerken
industry|firmographic|choice|organisation|Industry|Secteur|Branche
  retail|Retail|Commerce|Handel
  manufacturing|Manufacturing|Industrie|Produktion
  it_services|IT services|Services informatiques|IT-Dienstleistungen
  healthcare|Healthcare|Santé|Gesundheitswesen
  finance|Finance|Finance|Finanzen
  education|Education|Éducation|Bildung
  construction|Construction|BTP|Bauwesen
  hospitality|Hospitality|Hôtellerie-restauration|Gastgewerbe
  logistics|Logistics|Logistique|Logistik
  public_sector|Public sector|Secteur public|Öffentlicher Sektor
employee_band|firmographic|choice|organisation|Employees|Effectif|Mitarbeiter
  1_9|1–9|1 à 9|1–9
  10_49|10–49|10 à 49|10–49
  50_249|50–249|50 à 249|50–249
  250_999|250–999|250 à 999|250–999
  1000_plus|1000+|1000 et plus|1000+
decision_process|firmographic|choice|organisation|Decision process|Processus de décision|Entscheidungsprozess
  single_decider|Single decision-maker|Décideur unique|Einzelentscheider
  buying_committee|Buying committee|Comité d'achat|Einkaufsgremium
  tender|Public tender|Appel d'offres|Ausschreibung
  framework|Framework agreement|Accord-cadre|Rahmenvertrag
"""  # noqa: E501

# code|en|fr|popularity|lowest and highest price in cents|interest, then code|en|fr per sub
_CATEGORIES = """
books|Books|Livres|18|800|4500|reading
  fiction|Fiction|Romans
  non_fiction|Non-fiction|Essais et documents
  children_books|Children's books|Livres pour enfants
  cookbooks|Cookbooks|Livres de cuisine
music|Music|Musique|9|1000|25000|music
  vinyl|Vinyl records|Vinyles
  cds|CDs|CD
  instruments|Instruments|Instruments
electronics|Electronics|High-tech|12|2000|60000|technology
  audio|Audio|Audio
  phones|Phones|Téléphones
  computers|Computers|Ordinateurs
  cameras|Cameras|Photo
home|Home|Maison|14|900|25000|cooking
  kitchen|Kitchen|Cuisine
  furniture|Furniture|Meubles
  decor|Decoration|Décoration
  bedding|Bedding|Linge de lit
garden|Garden|Jardin|8|500|25000|gardening
  tools|Garden tools|Outils de jardin
  plants|Plants|Plantes
  outdoor_furniture|Outdoor furniture|Mobilier de jardin
sport|Sport|Sport|12|1500|30000|sports
  running|Running|Running
  cycling|Cycling|Vélo
  fitness|Fitness|Fitness
  outdoor|Outdoor|Plein air
fashion|Fashion|Mode|16|1500|20000|fashion
  womens|Women|Femme
  mens|Men|Homme
  shoes|Shoes|Chaussures
  accessories|Accessories|Accessoires
toys|Toys and games|Jeux et jouets|11|800|12000|family
  games|Board games|Jeux de société
  puzzles|Puzzles|Puzzles
  baby|Baby|Bébé
"""

#: Languages of the texts below, in column order.
LANGUAGES = ("de", "en", "es", "fr", "ro", "zh")
_WORDS = """
email|E-Mail|e-mail|correo electrónico|e-mail|e-mail|电子邮件
sms|SMS|SMS|SMS|SMS|SMS|短信
letter|Post|post|correo postal|courrier|poștă|邮寄信件
phone|Telefon|phone|teléfono|téléphone|telefon|电话
marketing|Angebote|offers|ofertas|des offres|oferte|优惠信息
newsletter|den Newsletter|the newsletter|el boletín|la lettre d'information|newsletterul|新闻简报
surveys|Umfragen|surveys|encuestas|des enquêtes|sondaje|问卷调查
events|Einladungen|event invitations|invitaciones|des invitations|invitații|活动邀请
partners|Partnerangebote|partner offers|ofertas de socios|des offres partenaires|oferte partenere|合作伙伴优惠
proof|Ich willige ein, {p} per {c} zu erhalten. Widerruf jederzeit möglich.|I agree to receive {p} by {c}. I can withdraw at any time.|Acepto recibir {p} por {c}. Puedo retirar mi consentimiento en cualquier momento.|J'accepte de recevoir {p} par {c}. Je peux retirer mon accord à tout moment.|Sunt de acord să primesc {p} prin {c}. Îmi pot retrage acordul oricând.|我同意通过{c}接收{p}，并可随时撤回。
subject_a|15 % Rabatt auf Ihre nächste Bestellung|15% off your next order|15 % de descuento en tu próximo pedido|-15 % sur votre prochaine commande|15% reducere la următoarea comandă|下一单享85折
subject_b|Kostenloser Versand für Ihre Bestellung|Free delivery on your next order|Envío gratis en tu pedido|Livraison offerte sur votre commande|Livrare gratuită la următoarea comandă|下一单免运费
"""  # noqa: E501


@dataclass(frozen=True)
class AttributeSpec:
    """One catalogue attribute: ``labels`` and each choice are ``|``-separated texts."""

    code: str
    group: str
    type: str
    applies_to: str
    labels: str
    choices: tuple[str, ...] = ()

    def choice_codes(self) -> list[str]:
        """The codes of the choices, in order."""
        return [c.split("|")[0] for c in self.choices]


@dataclass(frozen=True)
class CategorySpec:
    """A top category (``code|en|fr``), its popularity, price range, interest and subs."""

    spec: str
    popularity: float
    low_cents: int
    high_cents: int
    interest: str
    subs: tuple[str, ...]


def _blocks(text: str) -> list[tuple[list[str], list[str]]]:
    blocks: list[tuple[list[str], list[str]]] = []
    for line in text.strip("\n").splitlines():
        if line.startswith("  "):
            blocks[-1][1].append(line.strip())
        else:
            blocks.append((line.split("|"), []))
    return blocks


ATTRIBUTES = tuple(
    AttributeSpec(h[0], h[1], h[2], h[3], "|".join(h[4:]), tuple(subs))
    for h, subs in _blocks(_ATTRIBUTES)
)
CATEGORIES = tuple(
    CategorySpec("|".join(h[:3]), float(h[3]), int(h[4]), int(h[5]), h[6], tuple(subs))
    for h, subs in _blocks(_CATEGORIES)
)
_TEXT = {line.split("|")[0]: dict(zip(LANGUAGES, line.split("|")[1:], strict=True))
         for line in _WORDS.strip().splitlines()}  # fmt: skip

#: The (channel, purpose) pairs the demo grants, and how likely a reachable person grants each.
CONSENT_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("email", "marketing", 0.72), ("email", "newsletter", 0.45), ("sms", "marketing", 0.30),
    ("letter", "marketing", 0.35), ("phone", "surveys", 0.12), ("email", "events", 0.10),
    ("email", "partners", 0.05),
)  # fmt: skip

#: Subjects of the demo campaign's two e-mail cells, per language.
SUBJECTS = (_TEXT["subject_a"], _TEXT["subject_b"])

_ADJ = [
    "Classic",
    "Essential",
    "Urban",
    "Nordic",
    "Smart",
    "Premium",
    "Compact",
    "Deluxe",
    "Bright",
    "Eco",
    "Pro",
    "Studio",
]
_BRAND = [
    "Aurora",
    "Belmont",
    "Cresta",
    "Dorado",
    "Elan",
    "Fjord",
    "Granite",
    "Helix",
    "Ivory",
    "Juniper",
    "Kestrel",
    "Lumen",
]


def product_names(sub_en: str, count: int, rnd: random.Random) -> list[str]:
    """``count`` distinct product names for a subcategory (brand, adjective, subcategory)."""
    names: set[str] = set()
    while len(names) < count:
        model = rnd.choice(
            ["", f" {rnd.randint(2, 9)}", f" {rnd.choice('XSMLV')}{rnd.randint(1, 99)}"]
        )
        names.add(f"{rnd.choice(_BRAND)} {rnd.choice(_ADJ)} {sub_en.rstrip('s')}{model}")
    return sorted(names)


def proof_text(language: str, channel: str, purpose: str) -> str:
    """The consent text a person of ``language`` ticked for ``channel`` and ``purpose``."""
    words = {"p": _TEXT[purpose][language], "c": _TEXT[channel][language]}
    return _TEXT["proof"][language].format(**words)
