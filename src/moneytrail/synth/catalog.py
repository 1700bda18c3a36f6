"""Static vocabularies of the generator: cities, names, merchants, memos.

Everything here is fictional but plausible. Merchant names are invented;
MCCs follow ISO 18245 as listed in red_flags.md §0.4 and moneytrail.mcc.
"""

from __future__ import annotations

# (city, country, weight of the resident population). Domestic cities first:
# account holders live only in those; foreign ones are travel and remittance ends.
DOMESTIC_CITIES: tuple[tuple[str, float], ...] = (
    ("New York", 10.0),
    ("Los Angeles", 7.0),
    ("Chicago", 5.0),
    ("Houston", 4.5),
    ("Phoenix", 3.0),
    ("Philadelphia", 3.0),
    ("San Antonio", 2.5),
    ("San Diego", 2.5),
    ("Dallas", 2.5),
    ("Jacksonville", 1.5),
    ("Austin", 1.8),
    ("Columbus", 1.5),
    ("Charlotte", 1.5),
    ("Indianapolis", 1.4),
    ("Seattle", 1.5),
    ("Denver", 1.4),
    ("Nashville", 1.2),
    ("Las Vegas", 1.3),
    ("Atlanta", 1.5),
    ("Miami", 1.5),
    ("Minneapolis", 1.1),
    ("Portland", 1.1),
    ("Oklahoma City", 1.0),
    ("Memphis", 0.9),
    ("Louisville", 0.9),
    ("Baltimore", 1.0),
    ("Milwaukee", 0.9),
    ("Albuquerque", 0.8),
    ("Sacramento", 1.0),
    ("Kansas City", 0.9),
    ("Orlando", 1.0),
    ("New Orleans", 0.8),
)
HOME_COUNTRY = "US"
CURRENCY = "USD"

# Foreign cities appear as travel destinations and as remittance ends.
FOREIGN_CITIES: tuple[tuple[str, str], ...] = (
    ("Toronto", "CA"),
    ("Cancun", "MX"),
    ("Mexico City", "MX"),
    ("London", "GB"),
    ("Paris", "FR"),
    ("Manila", "PH"),
    ("Cebu City", "PH"),
    ("Bangkok", "TH"),
    ("Santo Domingo", "DO"),
    ("Medellin", "CO"),
    ("Lagos", "NG"),
    ("Abidjan", "CI"),
    ("Mumbai", "IN"),
    ("Guatemala City", "GT"),
    ("San Salvador", "SV"),
    ("Ho Chi Minh City", "VN"),
    ("Amsterdam", "NL"),
    ("Limassol", "CY"),
)

# Where families send money home, with weights (the Philippines is a common,
# wholly legitimate corridor, which is exactly why OCSE buyers hide in it).
REMITTANCE_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("MX", 5.0),
    ("PH", 3.0),
    ("IN", 2.5),
    ("GT", 1.5),
    ("SV", 1.2),
    ("DO", 1.2),
    ("VN", 1.0),
    ("NG", 0.8),
    ("CO", 0.8),
)
# FINTRAC OCSE 2025 top destinations (red_flags.md §3).
OCSE_COUNTRIES: tuple[tuple[str, float], ...] = (
    ("PH", 6.0),
    ("TH", 1.5),
    ("CO", 1.0),
    ("DO", 1.0),
    ("MX", 0.8),
)
# Where sextortion proceeds are aggregated (Thorn/NCMEC, red_flags.md CSE-SXT-01).
SEXTORTION_COUNTRIES: tuple[tuple[str, float], ...] = (("NG", 3.0), ("CI", 1.0))

FIRST_NAMES_F = (
    "Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn",
    "Abigail", "Emily", "Ella", "Elizabeth", "Camila", "Luna", "Sofia", "Avery", "Mila",
    "Aria", "Scarlett", "Penelope", "Layla", "Chloe", "Victoria", "Madison", "Eleanor",
    "Grace", "Nora", "Riley", "Zoey", "Hannah", "Lily", "Maria", "Ana", "Rosa", "Linh",
    "Mai", "Priya", "Aisha", "Fatima", "Jasmine", "Keisha", "Tamika", "Lucia", "Gabriela",
    "Mariel", "Joy", "Jennifer", "Patricia", "Linda", "Barbara", "Susan", "Karen", "Nancy",
)
FIRST_NAMES_M = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Theodore", "Jack", "Levi", "Alexander", "Jackson", "Mateo", "Daniel", "Michael",
    "Mason", "Sebastian", "Ethan", "Logan", "Owen", "Samuel", "Jacob", "Asher", "Aiden",
    "John", "Joseph", "Wyatt", "David", "Leo", "Luke", "Julian", "Hudson", "Carlos", "Jose",
    "Luis", "Juan", "Minh", "Raj", "Arjun", "Omar", "Ahmed", "DeShawn", "Tyrone", "Marcus",
    "Robert", "Richard", "Thomas", "Charles", "Christopher", "Mark", "Paul", "Steven",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen",
    "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
    "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Santos", "Reyes", "Cruz", "Bautista", "Tran", "Pham", "Patel", "Shah", "Kim", "Park",
    "Chen", "Wang", "Okafor", "Adeyemi", "Kowalski", "Novak", "Murphy", "Sullivan",
)
STREETS = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "River", "Highland", "Church", "Willow",
    "Chestnut", "Franklin", "Madison", "Spring", "Ridge", "Meadow", "Forest", "Mill",
)
STREET_SUFFIXES = ("St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Ct", "Way", "Pl")
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "proton.me")

OUR_BANK = "MTB"  # the bank whose export this is
OTHER_BANKS = ("BOA", "CHASE", "WELLS", "CITI", "USBANK", "PNC", "TRUIST", "CAPONE")

# --------------------------------------------------------------------------
# Merchants. One category = one MCC and a few invented brand names; local
# categories get merchants in every city, online ones live in one place.
# (key, mcc, brand names, median ticket, spread of log ticket)
# --------------------------------------------------------------------------
LOCAL_CATEGORIES: tuple[tuple[str, int, tuple[str, ...], float, float], ...] = (
    ("grocery", 5411, ("FRESHWAY MARKET", "GREENLEAF FOODS", "VALUE GROCER", "CITY SUPERMKT"),
     55.0, 0.6),
    ("convenience", 5499, ("QUICKSTOP", "CORNER DELI", "24/7 MART"), 14.0, 0.6),
    ("fuel", 5541, ("SPEEDY FUEL", "STAR GAS", "ROADWAY PETRO"), 42.0, 0.35),
    ("restaurant", 5812, ("BLUE PLATE BISTRO", "LA CASITA", "GOLDEN DRAGON", "TRATTORIA ROMA"),
     38.0, 0.5),
    ("fast_food", 5814, ("BURGER BARN", "TACO RAPIDO", "CHICKEN SHACK", "SUB STATION"),
     11.0, 0.4),
    ("bar", 5813, ("THE TAP ROOM", "NIGHT OWL LOUNGE", "HARBOR PUB"), 32.0, 0.55),
    ("pharmacy", 5912, ("CARE PHARMACY", "WELLRX DRUGS", "HEALTHMART"), 24.0, 0.7),
    ("cosmetics", 5977, ("GLOW BEAUTY SUPPLY", "BELLA COSMETICS"), 28.0, 0.6),
    ("clothing_women", 5621, ("CHARMED BOUTIQUE", "LACE & SILK", "MODE FEMME"), 48.0, 0.6),
    ("clothing", 5651, ("FAMILY OUTFITTERS", "DENIM DEPOT"), 55.0, 0.6),
    ("taxi", 4121, ("CITYCAB", "METRO TAXI"), 19.0, 0.45),
    ("parking", 7523, ("PARK-N-GO", "CITY PARKING"), 9.0, 0.5),
    ("hotel", 7011, ("GRAND PLAZA HOTEL", "COMFORT STAY INN", "MOTEL SIX-TEN", "HARBOR SUITES",
                     "BUDGET LODGE"), 140.0, 0.35),
    ("atm_branch", 6011, ("MTB BRANCH",), 0.0, 0.0),  # cash location only, never a card row
    ("electronics", 5732, ("TECHZONE", "GADGET HUB"), 120.0, 0.8),
    ("car_rental", 7512, ("RAPID RENT A CAR", "SUNSET CAR RENTAL"), 160.0, 0.4),
    ("hardware", 5251, ("HANDY HARDWARE",), 45.0, 0.7),
    ("bookstore", 5942, ("CAMPUS BOOKS",), 40.0, 0.6),
)
# Online / national merchants: (key, mcc, name, city, country, median, spread)
ONLINE_MERCHANTS: tuple[tuple[str, int, str, str, str, float, float], ...] = (
    ("rideshare", 4121, "RYDE TECHNOLOGIES", "San Francisco", "US", 17.0, 0.5),
    ("rideshare", 4121, "LIFTLY RIDES", "San Francisco", "US", 16.0, 0.5),
    ("streaming", 4899, "STREAMFLIX", "Los Gatos", "US", 15.49, 0.0),
    ("streaming", 4899, "TUNESTREAM MUSIC", "New York", "US", 10.99, 0.0),
    ("digital_games", 5816, "PIXELPLAY GAMES", "Seattle", "US", 12.0, 0.7),
    ("digital_games", 5816, "BLOCKWORLD ROBUX", "San Mateo", "US", 10.0, 0.5),
    ("digital_goods", 5818, "APPSTORE DIGITAL", "Cupertino", "US", 4.99, 0.6),
    ("telecom", 4814, "MOBILEONE WIRELESS", "Dallas", "US", 65.0, 0.15),
    ("telecom", 4814, "FREEDOM CELL", "Denver", "US", 45.0, 0.15),
    ("internet", 4816, "FASTNET ISP", "Philadelphia", "US", 70.0, 0.1),
    ("airline", 4511, "SKYWEST AIRWAYS", "Dallas", "US", 320.0, 0.45),
    ("airline", 4511, "BLUEJET AIR", "New York", "US", 260.0, 0.45),
    ("bus", 4131, "GREYLINE BUS", "Dallas", "US", 65.0, 0.4),
    ("travel_agency", 4722, "TRIPFINDER.COM", "Seattle", "US", 210.0, 0.5),
    ("ecommerce", 5999, "MEGAMART ONLINE", "Seattle", "US", 35.0, 0.9),
    ("food_delivery", 5814, "DASHEATS DELIVERY", "San Francisco", "US", 28.0, 0.4),
    ("advertising", 7311, "LOCALBIZ ADS", "Austin", "US", 120.0, 0.5),
    ("advertising", 7311, "SOCIALREACH MARKETING", "Menlo Park", "US", 90.0, 0.6),
    ("prepaid", 6540, "VANILLA PREPAID LOAD", "Pasadena", "US", 50.0, 0.0),
    ("crypto", 6051, "COINBASKET EXCHANGE", "San Francisco", "US", 100.0, 0.8),
    ("money_transfer", 4829, "SENDWAVE REMIT", "Boston", "US", 200.0, 0.5),
    ("giftcards", 5411, "GIFTCARD MALL", "Louisville", "US", 50.0, 0.0),
    # Foreign-based online classifieds and escort-ad boards (FIN-2020-A008 FI-7).
    ("escort_ads", 7311, "NIGHTLIST CLASSIFIEDS", "Amsterdam", "NL", 24.0, 0.0),
    ("escort_ads", 7311, "LOCALXPRESS ADS", "Limassol", "CY", 12.0, 0.0),
    ("escort_ads", 7273, "SWEETDATE PREMIUM", "Limassol", "CY", 36.0, 0.0),
    ("adult", 5967, "LIVECAMZ ONLINE", "Amsterdam", "NL", 25.0, 0.5),
    ("vpn", 4816, "SHADOWTUNNEL VPN", "Limassol", "CY", 11.99, 0.0),
    ("jewellery", 5944, "DIAMOND DISTRICT JEWELERS", "New York", "US", 1800.0, 0.6),
    ("car_dealer", 5511, "PREMIER AUTO SALES", "Miami", "US", 9000.0, 0.3),
)

# --------------------------------------------------------------------------
# Businesses of the population: (category label, MCC, name suffixes)
# --------------------------------------------------------------------------
CASH_BUSINESS_KINDS: tuple[tuple[str, int, tuple[str, ...], float], ...] = (
    # label, mcc, name patterns, weight
    ("restaurant", 5812, ("Kitchen", "Grill", "Taqueria", "Diner", "Noodle House"), 3.0),
    ("convenience store", 5499, ("Corner Market", "Mini Mart", "Food Store"), 2.5),
    ("nail salon", 7230, ("Nails", "Nail Spa", "Beauty Nails"), 2.0),
    ("massage", 7297, ("Day Spa", "Massage Therapy", "Wellness Spa"), 1.0),
    ("bar", 5813, ("Tavern", "Lounge", "Pub"), 1.0),
    ("laundromat", 7211, ("Laundromat", "Wash & Fold"), 0.8),
    ("barber shop", 7230, ("Barbershop", "Cuts"), 1.0),
)
FRONT_BUSINESS_NAMES = ("Relax Spa", "Asian Massage", "Oriental Day Spa", "Lotus Massage",
                        "Golden Touch Spa", "Jade Wellness", "Sakura Health Spa", "Orchid Massage")

# --------------------------------------------------------------------------
# Memos. Benign ones for ordinary transfers; suggestive ones only in planted cases.
# --------------------------------------------------------------------------
BENIGN_P2P_MEMOS = (
    "dinner", "thanks!", "rent share", "utilities", "groceries", "birthday gift", "concert",
    "gas money", "movie night", "brunch", "for the tickets", "split bill", "coffee", "pizza",
    "uber", "happy birthday", "lunch", "vacation share", "Netflix share", "thanks", "payment",
    "sorry!", "help with bills", "donation", "pls pay back", "", "", "", "", "",
)
GIG_MEMOS = (
    "dog walking", "haircut", "tutoring", "house cleaning", "braids", "lawn mowing",
    "babysitting", "moving help", "lashes", "photo shoot", "piano lesson", "nails", "", "",
)
REMITTANCE_MEMOS = (
    "family support", "for mom", "school fees", "household", "medicine for dad",
    "allowance", "for the kids", "medical bills", "gift", "uniforms", "help", "load", "", "",
)
# Escort-related memos for collector payments (FINTRAC 2021 G-29/G-30, 2016 P-11):
# agency names, aliases in brackets after an address, emoji and code words.
ESCORT_AGENCIES = ("Velvet Touch", "Diamond Girls", "Elite Companions", "Secret Garden",
                   "Pink Lotus", "Angel Escorts")
ESCORT_ALIASES = ("Candy", "Cherry", "Honey", "Angel", "Kitty", "Bambi", "Lexi", "Star")
ESCORT_MEMO_TEMPLATES = (
    "{agency} booking", "{agency}", "{alias} 1hr", "for {alias}", "{email} ({alias})",
    "\U0001f339\U0001f339", "roses", "donation", "qv", "1 hr", "{alias} \U0001f48b",
    "thx {alias}", "", "", "",
)
# Cover purposes of OCSE remittances (FINTRAC OCSE 2025 C-5, AUSTRAC).
OCSE_MEMOS = ("school fees", "family support", "medical bills", "allowance", "gift",
              "uniforms", "help", "load", "", "")
# Sextortion payer memos (FINTRAC OCSE 2025 S-1).
SEXTORTION_MEMOS = ("please delete", "please stop", "delete the video", "i paid",
                    "dont post it", "pls", "sorry", "", "", "", "", "")
GENERIC_LAUNDERING_MEMOS = ("invoice", "consulting", "services", "loan", "payment", "", "",
                            "goods", "repayment", "")
