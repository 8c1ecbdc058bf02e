"""Content of the travel-agent demo: the agent's system prompt and tool definitions, and the
cities, airlines, hotels and travellers its tool results are drawn from. Plain data;
`travel_agent` turns it into traces."""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM = (
    "You are Wayfarer, a travel assistant. Use the tools to look up real availability and prices "
    "before answering; never invent flights, hotels or prices. Ask before booking unless the "
    "traveller explicitly asked you to book. Prices are per person in EUR unless stated. Be "
    "brief and use lists for options."
)

TOOLS = [
    {
        "name": "search_flights",
        "description": "Search flight offers between two airports on a date.",
        "input_schema": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "description": "IATA airport code"},
                "destination": {"type": "string", "description": "IATA airport code"},
                "date": {"type": "string", "format": "date"},
                "passengers": {"type": "integer", "minimum": 1},
                "direct_only": {"type": "boolean"},
            },
            "required": ["origin", "destination", "date"],
        },
    },
    {
        "name": "search_trains",
        "description": "Search train connections between two cities on a date.",
        "input_schema": {
            "type": "object",
            "properties": {
                "origin": {"type": "string"},
                "destination": {"type": "string"},
                "date": {"type": "string", "format": "date"},
            },
            "required": ["origin", "destination", "date"],
        },
    },
    {
        "name": "search_hotels",
        "description": "Search hotels in a city for a stay, optionally near a neighbourhood.",
        "input_schema": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "check_in": {"type": "string", "format": "date"},
                "check_out": {"type": "string", "format": "date"},
                "guests": {"type": "integer"},
                "near": {"type": "string"},
            },
            "required": ["city", "check_in", "check_out"],
        },
    },
    {
        "name": "book_flight",
        "description": "Book a flight offer for the named passengers with the card on file.",
        "input_schema": {
            "type": "object",
            "properties": {
                "offer_id": {"type": "string"},
                "passengers": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["offer_id", "passengers"],
        },
    },
    {
        "name": "get_booking",
        "description": "Look up an existing booking by its reference.",
        "input_schema": {
            "type": "object",
            "properties": {"reference": {"type": "string"}},
            "required": ["reference"],
        },
    },
    {
        "name": "change_booking",
        "description": "Move a booking to another flight offer.",
        "input_schema": {
            "type": "object",
            "properties": {"reference": {"type": "string"}, "offer_id": {"type": "string"}},
            "required": ["reference", "offer_id"],
        },
    },
    {
        "name": "get_weather",
        "description": "Weather forecast for a city on a date.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "date": {"type": "string"}},
            "required": ["city", "date"],
        },
    },
    {
        "name": "search_activities",
        "description": "Things to do in a city; indoor_only for rainy days.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "indoor_only": {"type": "boolean"}},
            "required": ["city"],
        },
    },
]


@dataclass(frozen=True)
class City:
    name: str
    airport: str
    areas: tuple[str, ...]
    activities: tuple[tuple[str, str, int], ...]  # (name, category, price in EUR)


CITIES = [
    City(
        "Lisbon",
        "LIS",
        ("Baixa", "Alfama", "Príncipe Real"),
        (
            ("Calouste Gulbenkian Museum", "museum", 10),
            ("Oceanário de Lisboa", "aquarium", 25),
            ("LX Factory", "market", 0),
        ),
    ),
    City(
        "Berlin",
        "BER",
        ("Mitte", "Kreuzberg", "Prenzlauer Berg"),
        (
            ("Pergamon Panorama", "museum", 14),
            ("Neues Museum", "museum", 14),
            ("Markthalle Neun", "food market", 0),
        ),
    ),
    City(
        "Barcelona",
        "BCN",
        ("Eixample", "El Born", "Gràcia"),
        (
            ("Picasso Museum", "museum", 15),
            ("Sagrada Família", "architecture", 26),
            ("Mercat de la Boqueria", "food market", 0),
        ),
    ),
    City(
        "Amsterdam",
        "AMS",
        ("Jordaan", "De Pijp", "Oud-West"),
        (
            ("Rijksmuseum", "museum", 22),
            ("Van Gogh Museum", "museum", 22),
            ("Foodhallen", "food hall", 0),
        ),
    ),
    City(
        "Rome",
        "FCO",
        ("Trastevere", "Monti", "Prati"),
        (
            ("Vatican Museums", "museum", 20),
            ("Galleria Borghese", "museum", 15),
            ("Mercato Centrale Roma", "food hall", 0),
        ),
    ),
    City(
        "Vienna",
        "VIE",
        ("Innere Stadt", "Neubau", "Leopoldstadt"),
        (
            ("Kunsthistorisches Museum", "museum", 21),
            ("Albertina", "museum", 19),
            ("Naschmarkt", "market", 0),
        ),
    ),
    City(
        "Copenhagen",
        "CPH",
        ("Vesterbro", "Nørrebro", "Indre By"),
        (
            ("Ny Carlsberg Glyptotek", "museum", 17),
            ("Designmuseum Danmark", "museum", 18),
            ("Torvehallerne", "food market", 0),
        ),
    ),
    City(
        "Paris",
        "CDG",
        ("Le Marais", "Saint-Germain", "Montmartre"),
        (
            ("Musée d'Orsay", "museum", 16),
            ("Musée de l'Orangerie", "museum", 12),
            ("Passage des Panoramas", "covered arcade", 0),
        ),
    ),
    City(
        "London",
        "LHR",
        ("Shoreditch", "South Bank", "Covent Garden"),
        (
            ("Tate Modern", "museum", 0),
            ("British Museum", "museum", 0),
            ("Borough Market", "food market", 0),
        ),
    ),
    City(
        "Prague",
        "PRG",
        ("Old Town", "Vinohrady", "Malá Strana"),
        (
            ("National Museum", "museum", 13),
            ("Municipal House", "architecture", 12),
            ("Lokál Dlouhááá", "beer hall", 0),
        ),
    ),
    City(
        "Edinburgh",
        "EDI",
        ("Old Town", "New Town", "Leith"),
        (
            ("National Museum of Scotland", "museum", 0),
            ("Scottish National Gallery", "museum", 0),
            ("The Real Mary King's Close", "tour", 23),
        ),
    ),
    City(
        "Athens",
        "ATH",
        ("Plaka", "Koukaki", "Kolonaki"),
        (
            ("Acropolis Museum", "museum", 20),
            ("National Archaeological Museum", "museum", 12),
            ("Varvakios Agora", "market", 0),
        ),
    ),
    City(
        "Stockholm",
        "ARN",
        ("Södermalm", "Östermalm", "Gamla stan"),
        (
            ("Vasa Museum", "museum", 19),
            ("Fotografiska", "museum", 21),
            ("Östermalms Saluhall", "food hall", 0),
        ),
    ),
    City(
        "Dublin",
        "DUB",
        ("Temple Bar", "Portobello", "Docklands"),
        (
            ("EPIC The Irish Emigration Museum", "museum", 24),
            ("Chester Beatty", "museum", 0),
            ("Guinness Storehouse", "tour", 26),
        ),
    ),
]
CITY_BY_NAME = {city.name: city for city in CITIES}

CARRIERS = [
    ("TAP Air Portugal", "TP"),
    ("Lufthansa", "LH"),
    ("easyJet", "U2"),
    ("Ryanair", "FR"),
    ("KLM", "KL"),
    ("Air France", "AF"),
    ("Iberia", "IB"),
    ("British Airways", "BA"),
    ("SWISS", "LX"),
    ("Vueling", "VY"),
    ("ITA Airways", "AZ"),
    ("Finnair", "AY"),
    ("SAS", "SK"),
    ("Aer Lingus", "EI"),
    ("Austrian", "OS"),
]
HUBS = ["FRA", "MUC", "ZRH", "AMS", "CDG", "MAD", "CPH"]
HOTEL_BRANDS = [
    "Motel One",
    "citizenM",
    "NH Collection",
    "Radisson Blu",
    "ibis Styles",
    "Hotel Indigo",
    "Meliá",
    "Generator",
    "Hilton Garden Inn",
    "Moxy",
    "25hours Hotel",
    "Novotel",
]
TRAIN_PAIRS = [
    ("Paris", "London", "Eurostar", 135),
    ("Vienna", "Prague", "Railjet", 245),
    ("Amsterdam", "Paris", "Eurostar", 200),
    ("Berlin", "Prague", "EuroCity", 260),
    ("Copenhagen", "Stockholm", "SJ High-Speed", 320),
]
TRAVELLERS = [
    "Ana Ribeiro",
    "Jonas Weber",
    "Priya Natarajan",
    "Tomás García",
    "Emma Lindqvist",
    "Kwame Mensah",
    "Sofia Rossi",
    "Liam O'Connor",
    "Mei Chen",
    "Noah Fischer",
    "Aisha Rahman",
    "Lucas Dubois",
    "Zeynep Kaya",
    "Oliver Novak",
]
WEATHER = [
    ("Light rain in the afternoon", 0.7),
    ("Overcast with showers", 0.8),
    ("Sunny spells, dry", 0.1),
    ("Cloudy, dry", 0.2),
    ("Heavy rain and wind", 0.9),
    ("Clear and cold", 0.05),
]
