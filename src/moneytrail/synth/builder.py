"""The generator's working state: node and text registries, merchants,
transaction chunks, accounts and labels, and their assembly into frames.

Transactions are collected as columnar numpy chunks of integer codes (node,
merchant, city and text indices); strings are looked up once at the end, so
generation costs a handful of numpy operations per event stream, not per row.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.synth import catalog as C

DAY = 86_400
HOUR = 3_600
NONE = -1  # "no value" in integer-coded columns
_ID_STRIDE = 7_919_953  # coprime with 9,000,000: scatters external ids without collisions

_CHANNEL_CODE = {name: i for i, name in enumerate(S.CHANNELS)}
_CHUNK_FIELDS = ("ts", "amount", "src", "dst", "channel", "mcc", "merchant", "city", "memo",
                 "case")


@dataclass
class Chunk:
    ts: np.ndarray
    amount: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    channel: np.ndarray
    mcc: np.ndarray
    merchant: np.ndarray
    city: np.ndarray
    memo: np.ndarray
    case: np.ndarray


@dataclass
class Case:
    case_id: str
    typology: str
    intensity: float
    members: list[tuple[int, str]] = field(default_factory=list)  # (node index, role)


class Builder:
    """Registries and accumulators shared by the population and the typologies."""

    def __init__(self, seed: int, days: int, start: date):
        self.seed = int(seed)
        self.days = int(days)
        self.start = datetime(start.year, start.month, start.day)
        self.horizon = self.days * DAY
        # nodes: accounts of our bank, external accounts, merchants, cash
        self.node_names: list[str] = []
        self.node_country: list[int] = []  # text index or NONE
        self.node_bank: list[int] = []
        self._texts: dict[str, int] = {}
        self.texts: list[str] = []
        # cities: 0.. domestic, then foreign
        self.city_names = [c for c, _ in C.DOMESTIC_CITIES] + [c for c, _ in C.FOREIGN_CITIES]
        self.city_country = np.array(
            [self.text(C.HOME_COUNTRY)] * len(C.DOMESTIC_CITIES)
            + [self.text(cc) for _, cc in C.FOREIGN_CITIES],
            dtype=np.int64,
        )
        self.n_domestic = len(C.DOMESTIC_CITIES)
        w = np.array([wt for _, wt in C.DOMESTIC_CITIES])
        self.city_weights = w / w.sum()
        self.chunks: list[Chunk] = []
        self.cases: list[Case] = []
        self._n_external = 0
        self.cash = self.add_nodes([S.CASH_NODE], country=None, bank=None)[0]
        self._build_merchants()

    # ------------------------------------------------------------------ rng
    def rng(self, *key: str | int) -> np.random.Generator:
        """An independent generator per named stream, so adding one stream
        (or leaving out a typology) does not shift the draws of the others."""
        parts = [self.seed] + [
            k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in key
        ]
        return np.random.default_rng(parts)

    # ------------------------------------------------------------ registries
    def text(self, value: str) -> int:
        idx = self._texts.get(value)
        if idx is None:
            idx = len(self.texts)
            self._texts[value] = idx
            self.texts.append(value)
        return idx

    def text_codes(self, values) -> np.ndarray:
        """Codes of a small vocabulary; the empty string stands for no value."""
        return np.array([self.text(v) if v else NONE for v in values], dtype=np.int64)

    def add_nodes(self, names, country: str | None, bank: str | None) -> np.ndarray:
        start = len(self.node_names)
        names = list(names)
        self.node_names.extend(names)
        cc = self.text(country) if country else NONE
        bk = self.text(bank) if bank else NONE
        self.node_country.extend([cc] * len(names))
        self.node_bank.extend([bk] * len(names))
        return np.arange(start, start + len(names), dtype=np.int64)

    def node_bank_is_ours(self, nodes: np.ndarray) -> np.ndarray:
        ours = self._texts.get(C.OUR_BANK, NONE)
        return np.array([self.node_bank[n] == ours for n in np.asarray(nodes).tolist()], bool)

    def set_node_country(self, nodes: np.ndarray, countries: list[str]) -> None:
        for n, cc in zip(nodes.tolist(), countries, strict=True):
            self.node_country[n] = self.text(cc)

    def external(self, kind: str, n: int, country: str = C.HOME_COUNTRY,
                 bank: str | None = None) -> np.ndarray:
        """n counterparties outside the bank (other banks, or abroad) with fresh ids.

        ``kind`` (employer, landlord, ...) is for the reader of the code only: the
        ids never reveal it, so no detector can learn a role from an id. Ids are
        scattered over the number space; foreign ones carry their country."""
        del kind
        base = self._n_external
        self._n_external += n
        numbers = (np.arange(base, base + n, dtype=np.int64) * _ID_STRIDE) % 9_000_000 + 1_000_000
        head = "X:" if country == C.HOME_COUNTRY else f"F:{country}:"
        nodes = self.add_nodes([f"{head}{x:07d}" for x in numbers.tolist()], country, bank)
        if bank is None:  # accounts at other banks, spread over them
            banks = self.rng("external-bank", base).integers(0, len(C.OTHER_BANKS), n)
            codes = [self.text(b) for b in C.OTHER_BANKS]
            for node, b in zip(nodes.tolist(), banks.tolist(), strict=True):
                self.node_bank[node] = codes[b]
        return nodes

    # ------------------------------------------------------------- merchants
    def _build_merchants(self) -> None:
        n_cities = len(self.city_names)
        node, name, mcc, city, med, spread = [], [], [], [], [], []
        self.local: dict[str, np.ndarray] = {}  # key -> (n_cities, n_brands) merchant idx
        counter = 0
        for key, code, brands, median, sd in C.LOCAL_CATEGORIES:
            grid = np.empty((n_cities, len(brands)), dtype=np.int64)
            for ci in range(n_cities):
                for bi, brand in enumerate(brands):
                    grid[ci, bi] = len(name)
                    node.append(f"M:{counter:05d}")
                    counter += 1
                    name.append(self.text(f"{brand} #{(ci * 37 + bi * 11) % 900 + 100}"))
                    mcc.append(code)
                    city.append(ci)
                    med.append(median)
                    spread.append(sd)
            self.local[key] = grid
        self.online: dict[str, np.ndarray] = {}
        extra_cities: dict[tuple[str, str], int] = {}
        for key, code, brand, cname, cc, median, sd in C.ONLINE_MERCHANTS:
            if cname in self.city_names:
                ci = self.city_names.index(cname)
            else:
                ci = extra_cities.get((cname, cc))
                if ci is None:
                    ci = len(self.city_names)
                    self.city_names.append(cname)
                    self.city_country = np.append(self.city_country, self.text(cc))
                    extra_cities[(cname, cc)] = ci
            idx = len(name)
            self.online[key] = np.append(self.online.get(key, np.empty(0, np.int64)), idx)
            node.append(f"M:{counter:05d}")
            counter += 1
            name.append(self.text(brand))
            mcc.append(code)
            city.append(ci)
            med.append(median)
            spread.append(sd)
        nodes = self.add_nodes(node, country=None, bank=None)
        self.m_node = nodes
        self.m_name = np.array(name, dtype=np.int64)
        self.m_mcc = np.array(mcc, dtype=np.int64)
        self.m_city = np.array(city, dtype=np.int64)
        self.m_median = np.array(med)
        self.m_spread = np.array(spread)
        for n, ci in zip(nodes.tolist(), city, strict=True):
            self.node_country[n] = int(self.city_country[ci])

    def local_merchant(self, key: str, city: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        grid = self.local[key]
        return grid[city, rng.integers(0, grid.shape[1], size=len(city))]

    def online_merchant(self, key: str, n: int, rng: np.random.Generator) -> np.ndarray:
        pool = self.online[key]
        return pool[rng.integers(0, len(pool), size=n)]

    def ticket(self, merchant: np.ndarray, rng: np.random.Generator, scale=1.0) -> np.ndarray:
        """Amounts drawn around each merchant's typical ticket."""
        med = self.m_median[merchant] * scale
        return med * np.exp(rng.normal(0.0, 1.0, size=len(merchant)) * self.m_spread[merchant])

    # ------------------------------------------------------------ time helpers
    def clock(self, day: np.ndarray, rng: np.random.Generator, kind: str = "day") -> np.ndarray:
        """Seconds since start for events on the given days at a plausible hour."""
        n = len(day)
        if kind == "day":  # shopping hours, peak late afternoon
            hour = np.clip(rng.normal(14.5, 3.2, n), 7.0, 22.5)
        elif kind == "business":
            hour = rng.uniform(9.0, 17.5, n)
        elif kind == "evening":
            hour = np.clip(rng.normal(19.5, 1.8, n), 16.0, 23.9)
        elif kind == "night":  # 22:00-05:00, the FINTRAC P-1 window
            hour = (22.0 + rng.uniform(0.0, 7.0, n)) % 24.0
        elif kind == "early":  # payroll and batch postings
            hour = rng.uniform(1.0, 6.0, n)
        elif kind == "any":
            hour = rng.uniform(0.0, 24.0, n)
        else:
            raise ValueError(kind)
        return day.astype(np.int64) * DAY + (hour * HOUR).astype(np.int64)

    def month_starts(self) -> np.ndarray:
        """Day offsets of the first of each calendar month inside the horizon, plus
        the start day itself when it is not a first."""
        d = np.arange(np.datetime64(self.start.date().replace(day=1), "M"),
                      np.datetime64(self.start.date() + timedelta(days=self.days), "M")
                      + np.timedelta64(1, "M"))
        offs = (d.astype("datetime64[D]") - np.datetime64(self.start.date(), "D")).astype(np.int64)
        return offs

    # -------------------------------------------------------------- recording
    def add(self, ts, amount, src, dst, channel: str, *, mcc=NONE, merchant=NONE, city=NONE,
            memo=NONE, case: int = NONE) -> None:
        ts = np.asarray(ts, dtype=np.int64)
        n = len(ts)
        if n == 0:
            return

        def col(v, dtype=np.int32):
            a = np.asarray(v, dtype=dtype).reshape(-1) if np.ndim(v) else np.asarray(v, dtype)
            if a.ndim == 0 or len(a) == 1:
                return np.broadcast_to(a.reshape(()), (n,)).copy()
            if len(a) != n:
                raise ValueError(f"column of {len(a)} values for {n} transactions")
            return a

        amount = np.round(np.maximum(col(amount, np.float64), 0.01), 2)
        ts = ts.astype(np.int64)
        if merchant is not NONE:
            merchant = col(merchant)
            if mcc is NONE:
                mcc = self.m_mcc[merchant]
            if city is NONE:
                city = self.m_city[merchant]
        chunk = Chunk(
            ts=ts, amount=amount, src=col(src), dst=col(dst),
            channel=np.full(n, _CHANNEL_CODE[channel], dtype=np.int8),
            mcc=col(mcc), merchant=col(merchant), city=col(city), memo=col(memo),
            case=col(case),
        )
        keep = (chunk.ts >= 0) & (chunk.ts < self.horizon)
        if not keep.all():
            chunk = Chunk(*(getattr(chunk, f)[keep] for f in _CHUNK_FIELDS))
        self.chunks.append(chunk)

    def card(self, ts, payer, merchant, amount, *, case: int = NONE, channel="card") -> None:
        self.add(ts, amount, payer, self.m_node[merchant], channel, merchant=merchant, case=case)

    def new_case(self, typology: str, intensity: float) -> int:
        idx = len(self.cases)
        self.cases.append(Case(f"C{idx + 1:04d}", typology, float(intensity)))
        return idx

    def label(self, case: int, nodes, role: str) -> None:
        assert role in S.ROLES, role
        for n in np.atleast_1d(np.asarray(nodes)).tolist():
            self.cases[case].members.append((int(n), role))

    # --------------------------------------------------------------- assembly
    def transactions(self) -> pl.DataFrame:
        """All recorded transactions in the canonical layout, sorted by time.

        Built one column at a time, freeing the integer codes as they are used,
        so peak memory stays near the size of the finished frame."""
        chunks, self.chunks = self.chunks, []
        # Chunks arrive in a fixed order, so a stable sort on time is deterministic.
        order = np.argsort(np.concatenate([c.ts for c in chunks]), kind="stable")
        cat: dict[str, np.ndarray] = {}
        for f in _CHUNK_FIELDS:
            cat[f] = np.concatenate([getattr(c, f) for c in chunks])[order]
            for c in chunks:
                setattr(c, f, None)
        del chunks
        n = len(order)
        del order
        case_typ = np.array([self.text(c.typology) for c in self.cases] + [NONE], dtype=np.int64)
        texts = pl.Series("t", self.texts, dtype=pl.String)
        nodes = pl.Series("n", self.node_names, dtype=pl.String)
        city_names = pl.Series("c", self.city_names, dtype=pl.String)
        node_country = np.array(self.node_country, dtype=np.int32)
        node_bank = np.array(self.node_bank, dtype=np.int32)

        def lookup(series: pl.Series, codes: np.ndarray) -> pl.Series:
            """Strings by code; NONE (-1) becomes null."""
            idx = pl.Series(codes).cast(pl.Int64)
            return series.gather(pl.select(pl.when(idx >= 0).then(idx)).to_series())

        col: dict[str, pl.Series | np.ndarray] = {}
        col[S.TXN_ID] = pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(
            len(str(n))).str.replace(r"^", "T")
        seconds = cat.pop("ts")
        col[S.TIMESTAMP] = pl.Series(
            (np.datetime64(self.start, "s") + seconds.astype("timedelta64[s]")).astype(
                "datetime64[us]")).cast(pl.Datetime("us"))
        del seconds
        col[S.AMOUNT] = cat.pop("amount")
        col[S.CURRENCY] = pl.repeat(C.CURRENCY, n, eager=True)
        for side, account, bank, country in (
            ("src", S.FROM_ACCOUNT, S.FROM_BANK, S.FROM_COUNTRY),
            ("dst", S.TO_ACCOUNT, S.TO_BANK, S.TO_COUNTRY),
        ):
            codes = cat.pop(side)
            col[account] = lookup(nodes, codes)
            col[bank] = lookup(texts, node_bank[codes])
            col[country] = lookup(texts, node_country[codes])
            del codes
        channels = pl.Series(list(S.CHANNELS), dtype=pl.String)
        col[S.CHANNEL] = channels.gather(pl.Series(cat.pop("channel")).cast(pl.UInt32)).cast(
            S.CHANNEL_DTYPE)
        mcc = cat.pop("mcc")
        col[S.MCC] = pl.Series(mcc).cast(pl.Int32)
        col[S.MCC] = pl.select(pl.when(col[S.MCC] >= 0).then(col[S.MCC])).to_series()
        del mcc
        merchant = cat.pop("merchant")
        col[S.MERCHANT] = lookup(texts, np.where(merchant >= 0, self.m_name[merchant], NONE))
        del merchant
        col[S.MEMO] = lookup(texts, cat.pop("memo"))
        city = cat.pop("city")
        col[S.LOCATION_CITY] = lookup(city_names, city)
        col[S.LOCATION_COUNTRY] = lookup(texts, np.where(city >= 0, self.city_country[city],
                                                         NONE))
        del city
        case = cat.pop("case")
        col[S.IS_LAUNDERING] = case >= 0
        col[S.TYPOLOGY] = lookup(texts, case_typ[case])
        self._case_of_row = case
        order_of_columns = [c for c in S.TRANSACTION_SCHEMA if c not in S.PROVENANCE_COLUMNS]
        return pl.DataFrame({name: col.pop(name) for name in order_of_columns})

    def label_frames(self, txns: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """labels.csv (member accounts and roles) and label_transactions.csv."""
        rows = []
        for c in self.cases:
            seen: set[tuple[int, str]] = set()
            for node, role in c.members:
                if (node, role) in seen:
                    continue
                seen.add((node, role))
                rows.append((self.node_names[node], c.case_id, c.typology, role))
        labels = pl.DataFrame(
            rows, schema=[S.LB_ACCOUNT, S.LB_CASE, S.LB_TYPOLOGY, S.LB_ROLE], orient="row"
        ).sort(S.LB_CASE, S.LB_ACCOUNT, S.LB_ROLE)
        case_ids = pl.Series([c.case_id for c in self.cases], dtype=pl.String)
        mask = self._case_of_row >= 0
        label_txns = pl.DataFrame(
            {
                S.TXN_ID: txns.get_column(S.TXN_ID).filter(pl.Series(mask)),
                S.LB_CASE: case_ids.gather(pl.Series(self._case_of_row[mask])),
                S.LB_TYPOLOGY: txns.get_column(S.TYPOLOGY).filter(pl.Series(mask)),
            }
        )
        return labels, label_txns
