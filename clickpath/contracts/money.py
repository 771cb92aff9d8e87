"""Currencies and amounts: ISO 4217 codes only, Decimal arithmetic only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Active ISO 4217 codes (2024 list) plus the crypto codes operators commonly settle in.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL BTC ETH USDT USDC LTC
    """.split()
)


# Decimal places of each currency's minor unit (ISO 4217; the rest have 2). Crypto codes are
# held to 6, the scale of the ledger's Avro decimals (schemas/commissions/ledger_entry.v1.avsc).
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("BTC ETH LTC".split(), 6),
}


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def round_to_minor(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to the currency's minor unit, half to even: the one rounding rule of
    the commission ledger (docs/commissions.md)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_EVEN)


def check_currency(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError(f"unknown currency {code[:16]!r}: expected an ISO 4217 code such as EUR")
    return code


def format_amount(amount: Decimal) -> str:
    """Two decimals at least, more only where the amount has them (0.0005 BTC stays exact)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents if amount == cents else amount.normalize():f}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency (a configured CPA, say): Decimal, never float."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not self.amount.is_finite():
            raise ValueError(f"not an amount: {self.amount}")

    @classmethod
    def parse(cls, text: str) -> Money:
        """`"50.00 EUR"` (amount, a space, an ISO 4217 code) as Money."""
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(f"expected an amount and a currency such as '50.00 EUR', not {text[:40]!r}")
        try:
            amount = Decimal(parts[0])
        except InvalidOperation:
            raise ValueError(f"not an amount: {parts[0][:40]!r}") from None
        return cls(amount, parts[1])

    def __str__(self) -> str:
        return f"{format_amount(self.amount)} {self.currency}"
