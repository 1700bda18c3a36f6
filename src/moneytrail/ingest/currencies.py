"""Currency codes a profile can require (``vocabulary: iso4217``).

The active ISO 4217 alphabetic codes, plus the codes exports commonly use for
crypto-assets (no ISO code exists for them, and crypto is a channel the
trafficking red flags care about). A profile that maps currency *names* to
codes (AMLworld, SAML-D) checks the result against this set, so a name the
profile does not know is quarantined as ``unknown currency`` instead of
passing through as free text.
"""

from __future__ import annotations

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
