"""ISO 18245 merchant category codes grouped into the baskets the trafficking
indicators speak of (red_flags.md §0.4). Features and the generator use these
sets; rule files spell their codes out so each rule reads on its own.
"""

from __future__ import annotations

LODGING = frozenset({7011, 7012, 6513})
AIR_RAIL_BUS = frozenset({4511, 4722, 4112, 4131, 4111})
LOCAL_TRANSPORT = frozenset({4121, 7512, 7513, 7523})  # taxi/ride-hail, car rental, parking
ESCORT_DATING = frozenset({7273})
MASSAGE_SPA = frozenset({7297, 7298, 7230})
ADVERTISING = frozenset({7311})
ONLINE_ADULT = frozenset({5967, 5968})  # inbound teleservices / subscriptions: adult content
PREPAID = frozenset({6540})
QUASI_CASH_CRYPTO = frozenset({6051})
MONEY_TRANSFER = frozenset({4829})
ATM_CASH = frozenset({6011, 6010})
FAST_FOOD = frozenset({5814})
RESTAURANTS_BARS = frozenset({5812, 5813})
PHARMACY_BEAUTY = frozenset({5912, 5977})
CLOTHING_WOMEN = frozenset({5621, 5631, 5699})
GROCERY = frozenset({5411, 5499})
GAMBLING = frozenset({7995, 7801})
TELECOM_HOSTING = frozenset({4814, 4816})
DIGITAL_GOODS = frozenset({5815, 5816, 5817, 5818})
ELECTRONICS = frozenset({5732, 5734})
YOUTH = frozenset({5945, 5641})
LUXURY = frozenset({5944, 5511})

# The baskets account features report a spend share for.
BASKETS: dict[str, frozenset[int]] = {
    "lodging": LODGING,
    "travel": AIR_RAIL_BUS,
    "local_transport": LOCAL_TRANSPORT,
    "ads": ADVERTISING | ESCORT_DATING,
    "adult": ONLINE_ADULT | ESCORT_DATING,
    "prepaid": PREPAID,
    "crypto": QUASI_CASH_CRYPTO,
    "remittance": MONEY_TRANSFER,
    "massage_spa": MASSAGE_SPA,
    "sustenance": FAST_FOOD | PHARMACY_BEAUTY | CLOTHING_WOMEN,
}

# The cash reporting threshold of FinCEN's currency transaction report
# (31 CFR 1010.311) and of FINTRAC's large cash transaction report: both 10,000.
CASH_REPORTING_THRESHOLD = 10_000
