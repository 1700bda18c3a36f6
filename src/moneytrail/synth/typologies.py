"""Planted cases: each typology is a small cast of accounts with roles and
the transactions that make the pattern, at a per-case intensity (some faint).

Every function gets a :class:`Planter` and one case number and records its
rows with that case, so they carry ``is_laundering`` and the typology.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from moneytrail import schema as S
from moneytrail.mcc import CASH_REPORTING_THRESHOLD
from moneytrail.synth import catalog as C
from moneytrail.synth.builder import DAY, HOUR, Builder
from moneytrail.synth.population import GROUP_CODE, Population

THRESHOLD = float(CASH_REPORTING_THRESHOLD)


@dataclass
class Planter:
    b: Builder
    pop: Population
    pools: dict[str, np.ndarray]
    used: np.ndarray  # positions already cast in a case
    # KYC identifiers the cases make shared: column -> {position: value}
    kyc: dict[str, dict[int, str]] = field(default_factory=dict)

    def pick(self, rng, k: int, *groups: str) -> np.ndarray:
        """k unused accounts from the given groups (positions), marked used."""
        cand = np.flatnonzero(np.isin(self.pop.group, [GROUP_CODE[g] for g in groups])
                              & ~self.used)
        if len(cand) < k:
            raise ValueError(f"population too small to cast {k} accounts from {groups}")
        chosen = rng.choice(cand, size=k, replace=False)
        self.used[chosen] = True
        return chosen

    def node(self, pos):
        return self.pop.node[pos]

    def share(self, column: str, positions, value_from: int) -> None:
        """Give accounts the identifier of another one (filled in at KYC time)."""
        self.kyc.setdefault(column, {})
        for p in np.atleast_1d(positions).tolist():
            self.kyc[column][int(p)] = f"@{int(value_from)}"

    def recent_open(self, rng, positions, max_days: int = 120) -> None:
        self.kyc.setdefault(S.OPENED_AT, {})
        for p in np.atleast_1d(positions).tolist():
            opened = self.b.start.date().toordinal() - int(rng.integers(7, max_days))
            self.kyc[S.OPENED_AT][int(p)] = str(np.datetime64("0001-01-01") + np.timedelta64(
                opened - 1, "D"))

    def span(self, rng, k: float, min_days: int = 14) -> tuple[int, int]:
        """An active window inside the period; stronger cases last longer."""
        days = self.b.days
        length = int(np.clip(days * rng.uniform(0.3, 0.9) * min(1.0, 0.4 + 0.5 * k),
                             min(min_days, days), days))
        first = int(rng.integers(0, max(1, days - length + 1)))
        return first, first + length


def _other_cities(b: Builder, rng, home: int, k: int) -> np.ndarray:
    cities = np.array([c for c in range(b.n_domestic) if c != home])
    p = b.city_weights[cities] / b.city_weights[cities].sum()
    return rng.choice(cities, size=k, replace=False, p=p)


# ---------------------------------------------------------------------------
# Trafficking typologies
# ---------------------------------------------------------------------------
def funnel(p: Planter, case: int, rng, k: float) -> None:
    """Cash placed under the threshold in several cities away from home and
    withdrawn in the controller's city within one or two days (FIN-2020-A008
    typology 3; FINTRAC 2016 P-8/P-9)."""
    b = p.b
    acct, ctrl = p.pick(rng, 2, "salaried", "gig_worker", "student")
    p.recent_open(rng, acct)
    b.label(case, p.node(acct), "facilitator")
    b.label(case, p.node(ctrl), "controller")
    home = int(p.pop.home[ctrl])
    cities = _other_cities(b, rng, home, int(rng.integers(2, 6)))
    first, last = p.span(rng, k)
    n = max(3, int(rng.poisson(2.5 * k * (last - first) / 7)))
    day = np.sort(rng.integers(first, last, n))
    where = cities[rng.integers(0, len(cities), n)]
    amount = np.round(rng.uniform(0.15, 0.98, n) * THRESHOLD * min(1.0, 0.3 + 0.6 * k), -1)
    amount = np.minimum(amount, THRESHOLD - 10)
    ts = b.clock(day, rng, "day" if k < 0.6 else "any")
    b.add(ts, amount, b.cash, p.node(acct), "cash", city=where, case=case)
    # out within 1-2 days: cash at home, or a transfer to the controller
    lag = rng.integers(int(6 * HOUR), int(48 * HOUR), n)
    share = rng.uniform(0.8, 0.98, n)
    to_ctrl = rng.random(n) < 0.3
    out_ts = ts + lag
    b.add(out_ts[~to_ctrl], np.round(amount[~to_ctrl] * share[~to_ctrl], -1), p.node(acct),
          b.cash, "cash", mcc=6011, city=home, case=case)
    b.add(out_ts[to_ctrl], np.round(amount[to_ctrl] * share[to_ctrl], 2), p.node(acct),
          p.node(ctrl), "p2p", case=case)


def structuring(p: Planter, case: int, rng, k: float) -> None:
    """Cash deposits split to stay under 10,000 per deposit (and often per day),
    at several branches of the home city, then moved on by wire."""
    b = p.b
    (acct,) = p.pick(rng, 1, "salaried", "remitting_family", "gig_worker")
    b.label(case, p.node(acct), "launderer")
    first, last = p.span(rng, k)
    n_days = max(2, int(rng.poisson(1.2 * k * (last - first) / 7)))
    days = np.sort(rng.choice(np.arange(first, last), size=min(n_days, last - first),
                              replace=False))
    per_day = rng.integers(1, 4, len(days))
    day = np.repeat(days, per_day)
    lo = 0.75 if k > 0.7 else 0.55
    amount = np.round(rng.uniform(lo, 0.99, len(day)) * THRESHOLD, -1)
    amount = np.minimum(amount, THRESHOLD - rng.choice([10, 50, 100, 200], len(day)))
    b.add(b.clock(day, rng, "business"), amount, b.cash, p.node(acct), "cash",
          city=p.pop.home[acct], case=case)
    # the cash leaves by wire to another bank every week or so
    dest = b.external("X:BEN", 1)[0]
    weeks = np.unique(days // 7)
    total = np.array([amount[(day // 7) == w].sum() for w in weeks])
    b.add(b.clock(weeks * 7 + 6, rng, "business"), np.round(total * rng.uniform(.85, .98,
          len(weeks)), -2), p.node(acct), dest, "wire",
          memo=b.text(str(rng.choice(C.GENERIC_LAUNDERING_MEMOS[:5]))), case=case)


# ---------------------------------------------------------------------------
# Generic graph typologies (as AMLSim / AMLworld define them)
# ---------------------------------------------------------------------------
def _generic_members(p: Planter, rng, k_int: int, k_ext: int) -> np.ndarray:
    """Nodes for a generic typology: mostly our accounts, some at other banks."""
    own = p.node(p.pick(rng, k_int, "salaried", "gig_worker", "student", "remitting_family"))
    ext = p.b.external("X:ML", k_ext) if k_ext else np.empty(0, dtype=np.int64)
    return np.concatenate([own, ext])


def _transfers(p: Planter, case: int, rng, ts, amount, src, dst) -> None:
    channel = str(rng.choice(["wire", "ach", "p2p"], p=[0.5, 0.2, 0.3]))
    memos = p.b.text_codes(C.GENERIC_LAUNDERING_MEMOS)
    p.b.add(ts, amount, src, dst, channel, memo=memos[rng.integers(0, len(memos), len(ts))],
            case=case)


def _base_amount(rng, k: float) -> float:
    return float(rng.lognormal(np.log(2500), 0.6) * (0.4 + 0.6 * min(k, 1.5)))


def fan_in(p: Planter, case: int, rng, k: float) -> None:
    """Many sources pay one target within a few weeks."""
    n_src = int(np.clip(rng.poisson(4 + 8 * k), 4, 25))
    n_ext = int(rng.integers(0, n_src // 2 + 1))
    src = _generic_members(p, rng, n_src - n_ext, n_ext)
    (target,) = p.pick(rng, 1, "salaried", "gig_worker")
    p.b.label(case, src[: n_src - n_ext], "launderer")
    p.b.label(case, p.node(target), "collector")
    first, last = p.span(rng, k, 10)
    base = _base_amount(rng, k)
    reps = rng.integers(1, 3, n_src)
    s = np.repeat(src, reps)
    day = rng.integers(first, min(last, first + 30), len(s))
    amount = base * rng.uniform(0.8, 1.2, len(s))
    _transfers(p, case, rng, p.b.clock(day, rng, "business"), amount, s, p.node(target))


def fan_out(p: Planter, case: int, rng, k: float) -> None:
    """One source pays many targets within a few weeks."""
    n_dst = int(np.clip(rng.poisson(4 + 8 * k), 4, 25))
    n_ext = int(rng.integers(0, n_dst // 2 + 1))
    dst = _generic_members(p, rng, n_dst - n_ext, n_ext)
    (source,) = p.pick(rng, 1, "salaried", "gig_worker")
    p.b.label(case, dst[: n_dst - n_ext], "launderer")
    p.b.label(case, p.node(source), "launderer")
    first, last = p.span(rng, k, 10)
    base = _base_amount(rng, k)
    # the source is funded first, by cash and a wire in
    total = base * n_dst
    b = p.b
    b.add(b.clock(np.array([first]), rng, "business"), [total * 1.02],
          b.external("X:ML", 1), p.node(source), "wire", case=case)
    reps = rng.integers(1, 3, n_dst)
    d = np.repeat(dst, reps)
    day = rng.integers(first + 1, min(last, first + 30) + 1, len(d))
    _transfers(p, case, rng, b.clock(day, rng, "business"),
               base / reps.mean() * rng.uniform(0.8, 1.2, len(d)), p.node(source), d)


def cycle(p: Planter, case: int, rng, k: float) -> None:
    """Money goes round a ring of accounts and back to where it started."""
    n = int(rng.integers(3, 8))
    members = _generic_members(p, rng, n - int(rng.integers(0, 2)), 0)
    members = np.concatenate([members, p.b.external("X:ML", n - len(members))])
    p.b.label(case, members[p.b.node_bank_is_ours(members)], "launderer")
    first, _ = p.span(rng, k)
    rounds = max(1, int(round(k * rng.uniform(1, 3))))
    amount = _base_amount(rng, k) * 2
    for r in range(rounds):
        hop_gap = rng.uniform(0.3, 3.0, n) * DAY
        ts = (first + 20 * r) * DAY + np.cumsum(hop_gap).astype(np.int64)
        amounts = amount * np.cumprod(rng.uniform(0.96, 0.995, n))  # fees along the ring
        _transfers(p, case, rng, ts, amounts, members, np.roll(members, -1))


# ---------------------------------------------------------------------------
TypologyFn = Callable[[Planter, int, np.random.Generator, float], None]
PLANTERS: dict[str, TypologyFn] = {
    "funnel": funnel,
    "structuring": structuring,
    "fan_in": fan_in,
    "fan_out": fan_out,
    "cycle": cycle,
}
