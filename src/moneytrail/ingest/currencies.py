"""Currency codes a profile can require (``vocabulary: iso4217``).

The active ISO 4217 alphabetic codes, plus the codes exports commonly use for
crypto-assets (no ISO code exists for them, and crypto is a channel the
trafficking red flags care about). A profile that maps currency *names* to
codes (AMLworld, SAML-D) checks the result against this set, so a name the
profile does not know is quarantined as ``unknown currency`` instead of
passing through as free text.
"""

from __future__ import annotations

import math
from typing import Any

from moneytrail.errors import ParamsError

ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK
    MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
    TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG
    XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905 - a code table reads best as a block
)

CRYPTO_CODES: frozenset[str] = frozenset({"BTC", "XBT", "ETH", "USDT", "USDC", "XMR", "LTC"})

VOCABULARIES: dict[str, frozenset[str]] = {"iso4217": ISO_4217 | CRYPTO_CODES}

# Run settings of the ``ingest`` section of a params file (moneytrail.params).
DEFAULTS: dict[str, Any] = {
    # Convert every amount into this currency (an ISO 4217 code) at ``rates`` before
    # any detector reads it: sums, thresholds and "amounts roughly conserved" only
    # mean something in one currency. Null: amounts are taken as the export gives
    # them (a notice says when the export holds several currencies).
    "base_currency": None,
    # Units of base_currency that one unit of each currency is worth, e.g.
    # {EUR: 1.08, GBP: 1.27} with base_currency USD. A row in a currency without
    # a rate is quarantined.
    "rates": {},
}


def exchange_rates(settings: dict[str, Any]) -> tuple[str, dict[str, float]] | None:
    """(base currency, rates) from the ``ingest`` settings, checked; None when no
    conversion is asked for."""
    base, rates = settings["base_currency"], settings["rates"] or {}
    hint = "e.g. ingest: {base_currency: USD, rates: {EUR: 1.08, GBP: 1.27}}"
    if base is None:
        if rates:
            raise ParamsError("ingest.rates given without ingest.base_currency", hint=hint)
        return None
    known = VOCABULARIES["iso4217"]
    base = str(base).strip().upper()
    if base not in known:
        raise ParamsError(f"ingest.base_currency {base!r} is not a currency code", hint=hint)
    if not isinstance(rates, dict):
        raise ParamsError("ingest.rates must map currency codes to numbers", hint=hint)
    checked: dict[str, float] = {}
    for code, rate in rates.items():
        name = str(code).strip().upper()
        if name not in known:
            raise ParamsError(f"ingest.rates: {code!r} is not a currency code", hint=hint)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ParamsError(f"ingest.rates.{name} must be a number, not {rate!r}", hint=hint)
        if not (math.isfinite(rate) and rate > 0):
            raise ParamsError(f"ingest.rates.{name} must be above 0, not {rate!r}", hint=hint)
        checked[name] = float(rate)
    checked[base] = 1.0
    return base, checked
