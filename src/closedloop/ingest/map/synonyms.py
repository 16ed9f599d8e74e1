"""Header names in English, French, Spanish, German and Romanian, per field.

A header matches when its key (lower case, accents, spaces and punctuation removed) equals the
key of one of these names. Names are per kind where one word means different things:
"customer id" is the person's own id in a persons file and the buyer in an orders file.
"""

from __future__ import annotations

import re

from closedloop.contacts.normalize import search_key

_NON_ALNUM = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """``"Código postal"`` → ``"codigopostal"``; ``"N° client"`` → ``"noclient"``."""
    key = search_key(name.replace("°", "o").replace("º", "o").replace("№", "no")) or ""
    return _NON_ALNUM.sub("", key)


_COMMON: dict[str, str] = {
    "email": "email|e-mail|e mail|mail|email address|e-mail address|emailaddress|courriel|"
    "adresse email|adresse e-mail|adresse mail|mel|mél|correo|correo electronico|"
    "correo electrónico|email adresse|e-mail-adresse|mailadresse|adresa de email|adresa email|"
    "adresă de e-mail|adresa de e-mail|posta electronica|poștă electronică",
    "phone": "phone|telephone|tel|tel.|phone number|telephone number|tel no|landline|"
    "téléphone|téléphone fixe|tél|numéro de téléphone|no de téléphone|fixe|teléfono|"
    "telefono|teléfono fijo|número de teléfono|telefon|telefonnummer|festnetz|rufnummer|"
    "număr de telefon|numar de telefon|telefon fix",
    "mobile": "mobile|mobile phone|mobile number|cell|cell phone|cellphone|gsm|portable|"
    "téléphone portable|téléphone mobile|tél portable|móvil|movil|celular|teléfono móvil|"
    "handy|mobil|mobiltelefon|mobilnummer|handynummer|telefon mobil|mobil telefon",
    "line1": "address|street|street address|address line 1|address1|addr1|line1|"
    "address line1|adresse|rue|adresse 1|adresse ligne 1|voie|numéro et rue|dirección|"
    "direccion|calle|domicilio|dirección 1|strasse|straße|str|strasse und hausnummer|"
    "straße und hausnummer|anschrift|adresszeile 1|adresa|adresă|strada|stradă|adresa 1",
    "street_number": "street number|street no|street nr|house number|house no|house nr|"
    "housenumber|house_number|street_number|building number|nº|n°|no.|numéro|numero|"
    "numéro de rue|numéro de voie|n de rue|número|número de calle|num|hausnummer|hausnr|"
    "hnr|haus nr|nr|număr|numar|număr stradă|numar strada",
    "line2": "address line 2|address2|addr2|line2|address line2|complement|"
    "complément|complément d'adresse|complement d'adresse|adresse 2|adresse ligne 2|"
    "dirección 2|direccion 2|adresszusatz|zusatz|adresszeile 2|adresa 2|complement adresa",
    "postal_code": "postal code|postalcode|postcode|post code|zip|zip code|zipcode|"
    "code postal|cp|codepostal|código postal|codigo postal|c.p.|plz|postleitzahl|"
    "cod postal|cod poștal|codul poștal",
    "locality": "city|town|locality|place|ville|commune|localité|localite|"
    "ciudad|localidad|población|poblacion|municipio|ort|stadt|wohnort|gemeinde|"
    "localitate|oraș|oras|municipiu",
    "region": "region|state|province|county|région|département|departement|"
    "provincia|comunidad|comunidad autónoma|estado|bundesland|kanton|judet|județ|regiune",
    "country": "country|country code|countrycode|country iso|pays|code pays|país|pais|"
    "land|staat|ländercode|tara|țara|țară|cod tara|cod țară",
}

_PARTY_ID = (
    "external id|externalid|external_id|id|ref|reference|source id|customer id|customer number|"
    "customer no|client id|contact id|person id|identifiant|id client|numéro client|"
    "numero client|no client|code client|référence client|ref client|id cliente|"
    "código cliente|codigo cliente|número de cliente|numero de cliente|kundennummer|kunden-nr|"
    "kundennr|kunden id|kunden-id|kundenid|cod client|id client|număr client|numar client"
)

PERSONS: dict[str, str] = {
    **_COMMON,
    "external_id": _PARTY_ID,
    "salutation": "salutation|title|civility|civilité|civilite|titre|tratamiento|título|"
    "titulo|anrede|titel|titlu|formula de adresare|formulă de adresare",
    "given_name": "given name|first name|firstname|forename|first|given|prénom|prenom|"
    "nombre|nombre de pila|vorname|prenume",
    "family_name": "family name|last name|lastname|surname|last|family|nom|nom de famille|"
    "apellido|apellidos|primer apellido|nachname|familienname|zuname|nume|nume de familie",
    "full_name": "full name|fullname|name|contact name|customer name|client name|"
    "nom complet|nom et prénom|nom prénom|prénom nom|nombre completo|nombre y apellidos|"
    "vollständiger name|vollstandiger name|kundenname|nume complet|nume și prenume|"
    "nume si prenume",
    "gender": "gender|sex|sexe|genre|sexo|género|genero|geschlecht|sex|gen",
    "birth_date": "birth date|birthdate|date of birth|dob|birthday|born|date de naissance|"
    "né le|ne le|naissance|fecha de nacimiento|nacimiento|geburtsdatum|geboren|geburtstag|"
    "data nașterii|data nasterii|data de naștere|data de nastere",
    "language": "language|lang|locale|langue|idioma|lengua|sprache|limba|limbă",
    "lifecycle_status": "lifecycle status|lifecycle|status|customer status|statut|"
    "statut client|estado|estado cliente|kundenstatus|status client|stare",
    "preferred_channel": "preferred channel|channel|canal préféré|canal prefere|"
    "canal preferido|bevorzugter kanal|canal preferat",
    "preferred_time": "preferred time|best time|heure préférée|horario preferido|"
    "bevorzugte zeit|ora preferată|ora preferata",
}

ORGANISATIONS: dict[str, str] = {
    **_COMMON,
    "external_id": _PARTY_ID + "|company id|organisation id|organization id|account id|"
    "id entreprise|id société|id empresa|firmennummer|firmen-id|id firma|cod firma",
    "name": "name|company|company name|organisation|organization|organisation name|"
    "account name|raison sociale|entreprise|société|societe|nom de l'entreprise|empresa|"
    "razón social|razon social|nombre de la empresa|firma|firmenname|unternehmen|"
    "denumire|denumire firmă|denumire firma|companie",
    "legal_form": "legal form|forme juridique|forma jurídica|forma juridica|rechtsform|"
    "formă juridică|forma juridica",
    "registration_number": "registration number|company number|vat|vat number|siren|siret|"
    "numéro siret|numéro tva|cif|nif|numero de registro|handelsregisternummer|ust-idnr|"
    "steuernummer|cui|cod fiscal|nr registrul comerțului",
    "industry": "industry|sector|naf|code naf|ape|secteur|secteur d'activité|sector de "
    "actividad|industria|branche|wirtschaftszweig|domeniu|caen|cod caen",
    "employee_count": "employees|employee count|headcount|number of employees|effectif|"
    "salariés|empleados|número de empleados|mitarbeiter|mitarbeiterzahl|angajați|"
    "angajati|număr angajați",
    "annual_revenue": "revenue|annual revenue|turnover|chiffre d'affaires|ca|"
    "facturación|facturacion|umsatz|jahresumsatz|cifră de afaceri|cifra de afaceri",
    "website": "website|web site|url|web|site web|site internet|sitio web|webseite|"
    "internetseite|homepage|site|pagina web",
}

_PERSON_REF = (
    "person external id|person id|customer id|customer|customer number|client|client id|"
    "contact id|id client|numéro client|numero client|code client|cliente|id cliente|"
    "código cliente|número de cliente|kunde|kundennummer|kunden-nr|kundennr|kunden id|"
    "cod client|număr client|numar client|buyer id|person"
)

RELATIONSHIPS: dict[str, str] = {
    "person_external_id": _PERSON_REF + "|from|from id|person 1|personne|persona|person1",
    "kind": "kind|type|relationship|relationship type|relation|type de relation|tipo|"
    "tipo de relación|beziehung|beziehungstyp|art|tip|tip relație|relatie",
    "related_person_external_id": "related person external id|related person id|"
    "related person|related id|to|to id|person 2|person2|personne liée|persona relacionada|"
    "bezugsperson|persoană legată|persoana legata",
    "organisation_external_id": "organisation external id|organisation id|"
    "organization id|company id|company|account id|entreprise|id entreprise|empresa|"
    "firma|firmen-id|firmennummer|companie|id firma",
    "household": "household|foyer|ménage|hogar|haushalt|gospodărie|gospodarie",
    "role": "role|rôle|fonction|función|funcion|rolle|funktion|rol|funcție|functie",
    "starts_on": "starts on|start|start date|since|depuis|date de début|desde|"
    "fecha de inicio|seit|beginn|de la|data început",
    "ends_on": "ends on|end|end date|until|jusqu'au|date de fin|hasta|fecha de fin|bis|"
    "ende|până la|pana la|data sfârșit",
}

CONSENTS: dict[str, str] = {
    "person_external_id": _PERSON_REF,
    "channel": "channel|canal|kanal|medium|media",
    "purpose": "purpose|finalité|finalite|objet|finalidad|propósito|zweck|scop",
    "state": "state|status|consent|opt in|optin|opt-in|consentement|statut|"
    "consentimiento|estado|einwilligung|zustimmung|consimțământ|consimtamant|stare",
    "occurred_at": "occurred at|date|consent date|timestamp|when|date du consentement|"
    "fecha|fecha del consentimiento|datum|zeitpunkt|data|data consimțământului",
    "method": "method|source|collected via|méthode|moyen|método|metodo|methode|"
    "quelle|metodă|metoda",
    "proof_text": "proof|proof text|wording|texte|texte accepté|preuve|texto|prueba|"
    "nachweis|text|dovadă|dovada|text acceptat",
    "proof_version": "proof version|version|version du texte|versión|versión del texto|"
    "textversion|versiune",
    "ip_address": "ip|ip address|adresse ip|dirección ip|ip-adresse|adresa ip",
}

ATTRIBUTES: dict[str, str] = {
    "person_external_id": _PERSON_REF,
    "attribute": "attribute|attribute code|field|characteristic|attribut|critère|"
    "caractéristique|atributo|característica|merkmal|eigenschaft|atribut|caracteristică",
    "value": "value|valeur|valor|wert|valoare",
}

PRODUCTS: dict[str, str] = {
    "external_id": "external id|product id|id|item id|article id|id produit|"
    "référence produit|id producto|produkt-id|produktid|id produs",
    "sku": "sku|article number|item number|article|reference|ref|référence|réf|"
    "code article|ean|referencia|código de artículo|artikelnummer|art-nr|artnr|"
    "cod produs|cod articol",
    "name": "name|product|product name|title|description|désignation|designation|"
    "libellé|libelle|nom du produit|produit|nombre|producto|nombre del producto|"
    "bezeichnung|produktname|artikel|artikelbezeichnung|denumire|produs|nume produs",
    "category": "category|product category|catégorie|categorie|famille|categoría|"
    "categoria|familia|kategorie|warengruppe|categorie produs",
    "unit_price": "unit price|price|prix|prix unitaire|pu|precio|precio unitario|"
    "preis|einzelpreis|stückpreis|preț|pret|preț unitar|pret unitar",
    "currency": "currency|devise|monnaie|moneda|divisa|währung|wahrung|monedă|moneda",
    "is_active": "active|is active|actif|activo|aktiv|activ",
}

ORDERS: dict[str, str] = {
    "external_id": "external id|order id|order number|order no|order|id|invoice|"
    "invoice number|numéro de commande|numero de commande|n commande|no commande|commande|"
    "id commande|número de pedido|numero de pedido|pedido|id pedido|bestellnummer|"
    "bestell-nr|bestellung|auftragsnummer|număr comandă|numar comanda|comandă|comanda|"
    "id comandă",
    "person_external_id": _PERSON_REF,
    "organisation_external_id": "organisation external id|organisation id|"
    "organization id|company id|account id|id entreprise|empresa|firmen-id|id firma",
    "ordered_at": "ordered at|order date|date|purchase date|date de commande|date commande|"
    "date d'achat|fecha|fecha de pedido|fecha del pedido|bestelldatum|datum|kaufdatum|"
    "data comenzii|data comanda|data",
    "total_amount": "total amount|total|amount|order total|montant|montant total|"
    "total ttc|importe|importe total|total del pedido|betrag|gesamtbetrag|summe|"
    "suma|total comandă|valoare|sumă totală",
    "currency": "currency|devise|monnaie|moneda|divisa|währung|wahrung|monedă",
    "channel": "channel|sales channel|canal|canal de vente|canal de venta|vertriebskanal|"
    "kanal|canal de vânzare",
    "status": "status|order status|statut|état|estado|bestellstatus|stare",
    "supplier": "supplier|competitor|fournisseur|concurrent|proveedor|competidor|"
    "lieferant|wettbewerber|furnizor|concurent",
}

ORDER_LINES: dict[str, str] = {
    "order_external_id": "order external id|order id|order number|order|order no|"
    "numéro de commande|commande|id commande|número de pedido|pedido|bestellnummer|"
    "bestellung|număr comandă|comandă|comanda",
    "line_no": "line no|line|line number|position|pos|ligne|numéro de ligne|línea|linea|"
    "zeile|positionsnummer|linie|nr linie",
    "sku": "sku|article number|item number|article|reference|ref|référence|réf|"
    "code article|ean|referencia|artikelnummer|art-nr|cod produs|cod articol",
    "product_external_id": "product external id|product id|id produit|id producto|"
    "produkt-id|id produs",
    "quantity": "quantity|qty|qté|qte|quantité|cantidad|menge|anzahl|cantitate",
    "unit_price": "unit price|price|prix|prix unitaire|pu|precio|precio unitario|"
    "preis|einzelpreis|preț unitar|pret unitar|preț",
    "amount": "amount|line amount|total|montant|importe|betrag|valoare|sumă",
}

SYNONYMS: dict[str, dict[str, str]] = {
    "persons": PERSONS,
    "organisations": ORGANISATIONS,
    "relationships": RELATIONSHIPS,
    "consents": CONSENTS,
    "attributes": ATTRIBUTES,
    "products": PRODUCTS,
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
}

#: Words that qualify a header without changing its field: "customer_email", "Kunden-PLZ".
QUALIFIERS = frozenset(
    {
        "customer",
        "client",
        "contact",
        "person",
        "primary",
        "main",
        "home",
        "private",
        "personal",
        "billing",
        "shipping",
        "delivery",
        "kunde",
        "kunden",
        "cliente",
        "principal",
        "privat",
        "privé",
        "prive",
        "facturation",
        "livraison",
        "rechnungs",
        "liefer",
    }
)


def index(kind: str) -> dict[str, str]:
    """Header key → field of ``kind`` (the first field listed wins a shared name)."""
    out: dict[str, str] = {}
    for field, names in SYNONYMS[kind].items():
        out.setdefault(header_key(field), field)
        for name in names.split("|"):
            key = header_key(name)
            if key:
                out.setdefault(key, field)
    return out
