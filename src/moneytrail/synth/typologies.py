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

    state: dict[str, object] = field(default_factory=dict)  # shared across cases

    def pick(self, rng, k: int, *groups: str, where: np.ndarray | None = None,
             at_least: int | None = None) -> np.ndarray:
        """k unused accounts from the given groups (positions), marked used. With
        ``at_least``, take as many as there are (but no fewer than that)."""
        ok = np.isin(self.pop.group, [GROUP_CODE[g] for g in groups]) & ~self.used
        if where is not None:
            ok &= where
        cand = np.flatnonzero(ok)
        need = k if at_least is None else at_least
        if len(cand) < need:
            raise ValueError(f"population too small to cast {need} accounts from {groups}")
        chosen = np.sort(rng.choice(cand, size=min(k, len(cand)), replace=False))
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
        """Mark accounts as opened shortly before the period (mules, fronts)."""
        self.kyc.setdefault(S.OPENED_AT, {})
        start = np.datetime64(self.b.start.date(), "D")
        for p in np.atleast_1d(positions).tolist():
            self.kyc[S.OPENED_AT][int(p)] = str(start - int(rng.integers(7, max_days)))

    def span(self, rng, k: float, min_days: int = 14) -> tuple[int, int]:
        """An active window inside the period; stronger cases last longer."""
        days = self.b.days
        length = int(np.clip(days * rng.uniform(0.3, 0.9) * min(1.0, 0.4 + 0.5 * k),
                             min(min_days, days), days))
        first = int(rng.integers(0, max(1, days - length + 1)))
        return first, first + length


def _other_cities(b: Builder, rng, homes, k: int) -> np.ndarray:
    """k distinct domestic cities where none of the given accounts lives."""
    homes = set(np.atleast_1d(homes).tolist())
    cities = np.array([c for c in range(b.n_domestic) if c not in homes])
    p = b.city_weights[cities] / b.city_weights[cities].sum()
    return rng.choice(cities, size=k, replace=False, p=p)


def _near(p: Planter, rng, ctrl: int, k: int, young: np.ndarray) -> np.ndarray:
    """Victims for a controller: young, living in his city when there are enough
    (a shared address must not point to another town)."""
    groups = ("student", "gig_worker", "salaried")
    same_city = young & (p.pop.home == p.pop.home[ctrl])
    ok = same_city & np.isin(p.pop.group, [GROUP_CODE[g] for g in groups]) & ~p.used
    return p.pick(rng, k, *groups, where=same_city if ok.sum() >= k else young)


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
    cities = _other_cities(b, rng, p.pop.home[[acct, ctrl]], int(rng.integers(2, 6)))
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
    """Cash deposits split to stay under 10,000 per deposit (though several on one
    day may add up to more), in the home city, then moved on by wire."""
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


def _night_sweep(p: Planter, case: int, rng, ts, amount, src, dst, share=(0.8, 1.0),
                 lag_hours=(0.5, 20.0), channel: str = "p2p") -> None:
    """Move what came in on to another account within hours."""
    lag = (rng.uniform(*lag_hours, len(ts)) * HOUR).astype(np.int64)
    p.b.add(ts + lag, np.round(amount * rng.uniform(*share, len(ts)), 2), src, dst, channel,
            case=case)


def escort_ads_lodging(p: Planter, case: int, rng, k: float) -> None:
    """Repeated small payments to escort / classified ad boards, short hotel stays
    on a circuit of cities, ride-hail bursts at night and late-night cash by the
    victims, swept to the controller (FINTRAC 2016 T-1..T-6, P-1; FIN-2020-A008)."""
    b = p.b
    (ctrl,) = p.pick(rng, 1, "salaried", "gig_worker")
    victims = _near(p, rng, ctrl, int(rng.integers(1, 3)), p.pop.age < 30)
    b.label(case, p.node(ctrl), "controller")
    b.label(case, p.node(victims), "victim")
    first, last = p.span(rng, k, 21)
    span = last - first
    # ad payments: small repeated multiples of the board's price
    n_ads = max(3, int(rng.poisson(k * span / 2.5)))
    ad = b.online_merchant("escort_ads", n_ads, rng)
    mult = rng.choice([1, 1, 1, 2, 3], n_ads)
    b.card(b.clock(rng.integers(first, last, n_ads), rng, "any"), p.node(ctrl), ad,
           b.m_median[ad] * mult, case=case)
    # a circuit of cities: short stays one after another, a few days apart
    circuit = _other_cities(b, rng, p.pop.home[np.r_[ctrl, victims]], int(rng.integers(2, 6)))
    n_stays = max(2, int(rng.poisson(k * span / 5)))
    nights = rng.choice([1, 1, 2, 3], n_stays)
    gap = rng.integers(0, max(2, int(8 / max(k, 0.3))), n_stays)
    arrive = first + np.cumsum(np.r_[0, (nights + gap)[:-1]])
    fits = arrive + nights <= last
    fits[:2] = True  # at least two stays, even if the second runs past the window
    arrive, nights = arrive[fits], nights[fits]
    n_stays = len(arrive)
    city = circuit[np.arange(n_stays) % len(circuit)]
    hotel = b.local_merchant("hotel", city, rng)
    room = b.ticket(hotel, rng, 0.8) * nights * 1.1437
    rounded = rng.random(n_stays) < 0.4 * min(1.0, k)
    room = np.where(rounded, np.round(room, -1), room)  # FINTRAC P-14: rounded hotel sums
    payer = np.where(rng.random(n_stays) < 0.8, p.node(ctrl), p.node(victims[0]))
    b.add(b.clock(arrive, rng, "evening"), room, payer, b.m_node[hotel], "card",
          merchant=hotel, case=case)
    # ride-hail bursts in the evening and night of a stay
    burst = rng.random(n_stays) < 0.3 + 0.4 * min(1.0, k)
    n_rides = np.where(burst, rng.integers(3, 8, n_stays), 0)
    stay = np.repeat(np.arange(n_stays), n_rides)
    ride_ts = b.clock(arrive[stay], rng, "night")
    ride = b.online_merchant("rideshare", len(stay), rng)
    b.add(ride_ts, b.ticket(ride, rng), p.node(ctrl), b.m_node[ride], "card", merchant=ride,
          city=city[stay], case=case)
    # victims: late-night cash at ATMs of the stay city, swept to the controller
    per_stay = rng.integers(0, 3, n_stays) * nights
    stay = np.repeat(np.arange(n_stays), per_stay)
    v = victims[rng.integers(0, len(victims), len(stay))]
    ts = b.clock(arrive[stay] + rng.integers(0, 2, len(stay)), rng, "night")
    cash = np.round(rng.uniform(150, 900, len(stay)) * (0.5 + 0.5 * min(k, 1.2)), -1)
    b.add(ts, cash, b.cash, p.node(v), "cash", city=city[stay], case=case)
    _night_sweep(p, case, rng, ts, cash, p.node(v), p.node(ctrl))
    # victims' upkeep in the stay cities: fast food, pharmacy, cosmetics, lingerie
    for key, rate in (("fast_food", 1.2), ("pharmacy", 0.3), ("cosmetics", 0.3),
                      ("clothing_women", 0.2)):
        n = int(rng.poisson(rate * nights.sum() * min(k, 1.2)))
        stay = rng.integers(0, n_stays, n)
        m = b.local_merchant(key, city[stay], rng)
        v = victims[rng.integers(0, len(victims), n)]
        b.card(b.clock(arrive[stay], rng, "any"), p.node(v), m, b.ticket(m, rng), case=case)


def collector(p: Planter, case: int, rng, k: float) -> None:
    """Many unrelated small P2P senders, some with escort memos (agency names,
    aliases in brackets, emoji), swept on within hours (FINTRAC 2021 G-29/G-30,
    FINTRAC 2016 P-4/P-10/P-11)."""
    b = p.b
    (coll,) = p.pick(rng, 1, "student", "gig_worker", "salaried", where=p.pop.age < 35)
    (ctrl,) = p.pick(rng, 1, "salaried", "gig_worker")
    b.label(case, p.node(coll), "collector")
    b.label(case, p.node(ctrl), "controller")
    first, last = p.span(rng, k, 14)
    n_senders = int(np.clip(rng.poisson(8 + 45 * k), 5, 120))
    n_internal = int(rng.binomial(n_senders, 0.15))
    internal = p.pick(rng, n_internal, "salaried", "business_traveller", "remitting_family",
                      where=~p.pop.female, at_least=0)
    b.label(case, p.node(internal), "buyer")
    # outside senders: some also pay ordinary people here (the gig workers' clients)
    n_ext = n_senders - len(internal)
    known = p.pools["p2p_clients"]
    reused = rng.choice(known, size=min(n_ext // 2, len(known)), replace=False)
    senders = np.concatenate([p.node(internal), reused,
                              b.external("john", n_ext - len(reused))])
    reps = rng.choice([1, 1, 1, 2], len(senders))
    src = np.repeat(senders, reps)
    n = len(src)
    day = rng.integers(first, last, n)
    ts = np.where(rng.random(n) < 0.5, b.clock(day, rng, "night"), b.clock(day, rng, "evening"))
    rate = rng.choice([100, 150, 160, 200, 250, 300, 400], n, p=[.1, .2, .1, .3, .1, .15, .05])
    amount = rate * np.where(rng.random(n) < 0.2, rng.uniform(0.9, 1.1, n), 1.0)
    # memos: suggestive for a share that grows with the case's strength
    email = f"{str(rng.choice(C.ESCORT_ALIASES)).lower()}{int(rng.integers(10, 99))}@mail.com"
    agency = str(rng.choice(C.ESCORT_AGENCIES))
    vocab = [t.format(agency=agency, alias=str(rng.choice(C.ESCORT_ALIASES)), email=email)
             for t in C.ESCORT_MEMO_TEMPLATES]
    codes = b.text_codes(vocab)
    suggestive = rng.random(n) < 0.15 + 0.5 * min(k, 1.0)
    bland = b.text_codes(["", "", "thanks", "payment", "for last night"])
    memo = np.where(suggestive, codes[rng.integers(0, len(codes), n)],
                    bland[rng.integers(0, len(bland), n)])
    b.add(ts, amount, src, p.node(coll), "p2p", memo=memo, case=case)
    # swept on daily: to the controller, to crypto, or out in cash
    order = np.argsort(ts)
    sweep_day = ts[order] // DAY
    days_, first_idx = np.unique(sweep_day, return_index=True)
    totals = np.add.reduceat(amount[order], first_idx)
    when = (days_ + 1) * DAY + (rng.uniform(1, 14, len(days_)) * HOUR).astype(np.int64)
    how = rng.choice(3, len(days_), p=[0.6, 0.25, 0.15])
    share = rng.uniform(0.85, 0.98, len(days_))
    out = np.round(totals * share, 2)
    b.add(when[how == 0], out[how == 0], p.node(coll), p.node(ctrl), "p2p", case=case)
    crypto = b.online_merchant("crypto", int((how == 1).sum()), rng)
    b.card(when[how == 1], p.node(coll), crypto, out[how == 1], case=case)
    b.add(when[how == 2], np.round(out[how == 2], -1), p.node(coll), b.cash, "cash", mcc=6011,
          city=p.pop.home[coll], case=case)


def front_business(p: Planter, case: int, rng, k: float) -> None:
    """A massage parlour with cash takings out of proportion to its size, much of
    it banked outside opening hours, no payroll, paying for lodging and upkeep and
    sending the rest to its owner (FIN-2020-A008 typology 1, FI-3; FINTRAC 2016 T-7)."""
    b = p.b
    fronts = np.flatnonzero((p.pop.group == GROUP_CODE["front"]) & ~p.used)
    if len(fronts) == 0:
        raise ValueError("no front business account left to cast")
    front = fronts[0]
    p.used[front] = True
    owner = p.pop.owner[front]
    p.used[owner] = True
    b.label(case, p.node(front), "front_business")
    b.label(case, p.node(owner), "controller")
    p.recent_open(rng, front, 400)
    first, last = p.span(rng, k, 30)
    days_ = np.arange(first, last)
    banked = days_[rng.random(len(days_)) < rng.uniform(0.5, 0.95)]
    n = len(banked)
    amount = rng.lognormal(np.log(900 + 2600 * min(k, 1.5)), 0.4, n)
    night = rng.random(n) < 0.25 + 0.4 * min(k, 1.0)
    ts = np.where(night, b.clock(banked, rng, "night"), b.clock(banked, rng, "business"))
    city = p.pop.home[front]
    b.add(ts, np.round(np.minimum(amount, THRESHOLD - 50), 2), b.cash, p.node(front), "cash",
          city=city, case=case)
    # a trickle of card takings, so it looks like it trades
    acq = b.external("X:ACQ", 1, bank="ACQ")
    card_days = banked[rng.random(n) < 0.5]
    b.add(b.clock(card_days, rng, "early"), rng.lognormal(np.log(180), 0.5, len(card_days)),
          acq, p.node(front), "ach", memo=b.text("MERCHANT SETTLEMENT"), case=case)
    # outflows: weekly to the owner, monthly lease, hotels and upkeep on the business card
    weeks = np.arange(first // 7, last // 7 + 1)
    weekly = np.array([amount[(banked // 7) == w].sum() for w in weeks])
    keep = weekly > 0
    b.add(b.clock(weeks[keep] * 7 + 6, rng, "evening"), np.round(weekly[keep] * rng.uniform(
        0.5, 0.8, keep.sum()), -1), p.node(front), p.node(owner),
        str(rng.choice(["p2p", "ach"])), memo=b.text("owner draw"), case=case)
    lease = b.external("X:CRE", 1)
    months = b.month_starts()
    months = months[(months >= first) & (months < last)]
    b.add(b.clock(months + 1, rng, "business"), np.full(len(months), 2500.0), p.node(front),
          lease, "ach", memo=b.text("LEASE"), case=case)
    for key, rate in (("hotel", 0.1), ("fast_food", 0.3), ("grocery", 0.15), ("pharmacy", 0.1),
                      ("clothing_women", 0.05)):
        m_n = int(rng.poisson(rate * len(days_) * min(k, 1.2)))
        m = b.local_merchant(key, np.full(m_n, city), rng)
        b.card(b.clock(rng.integers(first, last, m_n), rng, "day"), p.node(front), m,
               b.ticket(m, rng), case=case)
    if k > 0.6:  # stronger cases also advertise on escort boards
        n_ads = int(rng.poisson(len(days_) / 10))
        ad = b.online_merchant("escort_ads", n_ads, rng)
        b.card(b.clock(rng.integers(first, last, n_ads), rng, "any"), p.node(front), ad,
               b.m_median[ad], case=case)


def rapid_pass_through(p: Planter, case: int, rng, k: float) -> None:
    """Credits that leave again within hours, leaving the account near empty
    (FINTRAC 2016 P-6/P-7)."""
    b = p.b
    (acct,) = p.pick(rng, 1, "salaried", "student", "gig_worker")
    p.recent_open(rng, acct, 200)
    b.label(case, p.node(acct), "facilitator")
    first, last = p.span(rng, k, 14)
    n = max(3, int(rng.poisson(k * (last - first) / 5)))
    day = np.sort(rng.integers(first, last, n))
    sources = b.external("X:ML", int(rng.integers(1, 5)))
    src = sources[rng.integers(0, len(sources), n)]
    amount = rng.lognormal(np.log(1500 + 3500 * min(k, 1.5)), 0.4, n)
    ts = b.clock(day, rng, "business")
    channel = str(rng.choice(["wire", "ach", "p2p"]))
    b.add(ts, amount, src, p.node(acct), channel, case=case)
    dests = b.external("X:ML", int(rng.integers(1, 4)))
    lag = (rng.uniform(0.3, 6 + 30 * (1.2 - min(k, 1.2)), n) * HOUR).astype(np.int64)
    how = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    out = np.round(amount * rng.uniform(0.9, 0.99, n), 2)
    sel = how == 0
    b.add(ts[sel] + lag[sel], out[sel], p.node(acct), dests[rng.integers(0, len(dests),
          sel.sum())], "wire", case=case)
    crypto = b.online_merchant("crypto", int((how == 1).sum()), rng)
    b.card(ts[how == 1] + lag[how == 1], p.node(acct), crypto, out[how == 1], case=case)
    sel = how == 2
    b.add(ts[sel] + lag[sel], np.round(out[sel], -2), p.node(acct), b.cash, "cash", mcc=6011,
          city=p.pop.home[acct], case=case)


def controller_victims(p: Planter, case: int, rng, k: float) -> None:
    """One controller behind several victim accounts that share his device, phone
    or address; what the victims take in is swept to him (ML-NOMINEE-01,
    FINTRAC 2016 P-13, FIN-2020-A008 typology 3)."""
    b = p.b
    (ctrl,) = p.pick(rng, 1, "salaried", "gig_worker")
    victims = _near(p, rng, ctrl, int(rng.integers(2, 7)), p.pop.age < 32)
    b.label(case, p.node(ctrl), "controller")
    b.label(case, p.node(victims), "victim")
    # shared identifiers: faint cases share one, strong cases several
    kinds = [S.DEVICE_ID, S.PHONE, S.ADDRESS, S.IP]
    n_kinds = 1 if k < 0.5 else int(rng.integers(2, 5))
    for column in rng.choice(kinds, n_kinds, replace=False).tolist():
        who = victims[rng.random(len(victims)) < 0.8]
        p.share(column, who if len(who) else victims[:1], ctrl)
    first, last = p.span(rng, k, 21)
    # victims take in cash (often at night) and P2P from customers
    n = max(4, int(rng.poisson(len(victims) * k * (last - first) / 3)))
    v = victims[rng.integers(0, len(victims), n)]
    day = rng.integers(first, last, n)
    is_cash = rng.random(n) < 0.55
    ts = np.where(is_cash & (rng.random(n) < 0.6), b.clock(day, rng, "night"),
                  b.clock(day, rng, "evening"))
    amount = np.round(rng.uniform(100, 700, n) * (0.6 + 0.4 * min(k, 1.5)), -1)
    b.add(ts[is_cash], amount[is_cash], b.cash, p.node(v[is_cash]), "cash",
          city=p.pop.home[v[is_cash]], case=case)
    johns = b.external("X:P2P", max(3, int((~is_cash).sum() * 0.8)))
    b.add(ts[~is_cash], amount[~is_cash], johns[rng.integers(0, len(johns), (~is_cash).sum())],
          p.node(v[~is_cash]), "p2p", case=case)
    _night_sweep(p, case, rng, ts, amount, p.node(v), p.node(ctrl), lag_hours=(0.2, 24))
    # the controller lives well on it
    n_lux = int(rng.poisson(1 + 3 * k))
    m = b.online_merchant("jewellery", n_lux, rng)
    b.card(b.clock(rng.integers(first, last, n_lux), rng, "day"), p.node(ctrl), m,
           b.ticket(m, rng), case=case)
    w = int(rng.poisson(k * (last - first) / 6))
    b.add(b.clock(rng.integers(first, last, w), rng, "any"),
          rng.choice([200.0, 300.0, 400.0, 500.0], w), p.node(ctrl), b.cash, "cash", mcc=6011,
          city=p.pop.home[ctrl], case=case)


def ocse_buyer(p: Planter, case: int, rng, k: float) -> None:
    """Frequent small remittances at night to one to three beneficiaries in a
    high-risk jurisdiction, growing in amount and frequency, under cover purposes
    (FINTRAC OCSE 2025 C-2/C-3/C-5; AIC 2020; AUSTRAC)."""
    b = p.b
    (buyer,) = p.pick(rng, 1, "salaried", "retiree", "business_traveller",
                      where=(~p.pop.female) & (p.pop.age >= 38))
    b.label(case, p.node(buyer), "buyer")
    # beneficiaries: sometimes shared with an earlier buyer (CSE-LS-04)
    pool = p.state.setdefault("ocse_beneficiaries", [])
    ccs = [c for c, _ in C.OCSE_COUNTRIES]
    w = np.array([x for _, x in C.OCSE_COUNTRIES])
    cc = ccs[int(rng.choice(len(ccs), p=w / w.sum()))]
    n_bene = int(rng.integers(1, 4))
    bene = b.external(f"F:{cc}:", n_bene, country=cc, bank="MSB")
    if pool and rng.random() < 0.5:
        bene = np.append(bene, pool[int(rng.integers(0, len(pool)))])
    pool.extend(bene[:n_bene].tolist())
    b.label(case, bene, "facilitator")
    first, last = p.span(rng, k, 30)
    # escalation: gaps shrink and amounts grow over the sends
    n = max(4, int(rng.poisson(6 + 25 * k * (last - first) / b.days)))
    frac = np.linspace(0, 1, n)
    gaps = np.exp(-1.2 * frac * min(k, 1.2)) * rng.uniform(0.5, 1.5, n)
    pos = np.cumsum(gaps)
    day = (first + (pos - pos[0]) / max(pos[-1] - pos[0], 1e-9) * (last - first - 1)).astype(
        np.int64)
    start_amt = rng.uniform(15, 60)
    amount = start_amt * (1 + frac * rng.uniform(1.0, 3.0) * min(k, 1.2)) * rng.uniform(
        0.85, 1.15, n)
    amount = np.minimum(amount, 200 + 150 * rng.random(n))
    amount = np.where(rng.random(n) < 0.5, np.round(amount, -1), amount)  # even amounts
    night = rng.random(n) < 0.5 + 0.35 * min(k, 1.0)
    ts = np.where(night, b.clock(day, rng, "night"), b.clock(day, rng, "evening"))
    memos = b.text_codes(C.OCSE_MEMOS)
    to = bene[rng.integers(0, len(bene), n)]
    b.add(ts, amount, p.node(buyer), to, "remittance",
          memo=memos[rng.integers(0, len(memos), n)], case=case)
    # context: adult live-stream sites and a VPN; stronger cases buy a flight there
    extras = int(rng.poisson(2 + 6 * k))
    m = np.concatenate([b.online_merchant("adult", extras, rng),
                        b.online_merchant("vpn", max(1, extras // 4), rng)])
    b.card(b.clock(rng.integers(first, last, len(m)), rng, "night"), p.node(buyer), m,
           b.ticket(m, rng), case=case)
    if k > 1.0:
        f = b.online_merchant("airline", 1, rng)
        b.card(b.clock(np.array([last - 1]), rng, "night"), p.node(buyer), f,
               b.ticket(f, rng) * 3, case=case)


def sextortion_collector(p: Planter, case: int, rng, k: float) -> None:
    """Many one-off small payments from young payers (14-19), often just after
    cash was put on their account, pleading memos on some, forwarded abroad or to
    unrelated people within two days (FINTRAC OCSE 2025 S-1..S-4)."""
    b = p.b
    (coll,) = p.pick(rng, 1, "student", "gig_worker", "salaried", where=p.pop.age < 32)
    b.label(case, p.node(coll), "collector")
    young = p.pop.age <= 19
    payers = p.pick(rng, int(np.clip(rng.poisson(3 + 9 * k), 3, 20)), "teen", "student",
                    where=young, at_least=2)
    b.label(case, p.node(payers), "extortion_victim")
    cc = str(rng.choice([c for c, _ in C.SEXTORTION_COUNTRIES]))
    abroad = b.external(f"F:{cc}:", 1, country=cc, bank="MSB")
    b.label(case, abroad, "facilitator")
    first, last = p.span(rng, k, 14)
    reps = rng.choice([1, 1, 2, 2, 3], len(payers))
    who = np.repeat(np.arange(len(payers)), reps)
    step = np.concatenate([np.arange(r) for r in reps])
    start = b.clock(rng.integers(first, last, len(payers)), rng, "evening")
    # payments in quick succession: minutes to hours apart
    ts = start[who] + (step * rng.uniform(0.2, 3.0, len(who)) * HOUR).astype(np.int64)
    amount = np.round(rng.uniform(25, 250, len(who)) * (1 + 0.5 * step), 0)
    # funded just before: pushed from a prepaid card, or cash put on at an ATM
    funding = rng.choice(3, len(who), p=[0.35, 0.25, 0.4])
    before = ts - (rng.uniform(0.1, 1.5, len(who)) * HOUR).astype(np.int64)
    prepaid = b.external("X:PPD", 1, bank="PREPAID")
    sel = funding == 0
    b.add(before[sel], amount[sel], prepaid, p.node(payers[who[sel]]), "p2p",
          memo=b.text("prepaid card transfer"), case=case)
    sel = funding == 1
    b.add(before[sel], amount[sel], b.cash, p.node(payers[who[sel]]), "cash",
          city=p.pop.home[payers[who[sel]]], case=case)
    memos = b.text_codes(C.SEXTORTION_MEMOS)
    b.add(ts, amount, p.node(payers[who]), p.node(coll), "p2p",
          memo=memos[rng.integers(0, len(memos), len(who))], case=case)
    # forwarded within 48 h: abroad through an MSB, or to unrelated people
    order = np.argsort(ts)
    day = ts[order] // DAY
    days_, idx = np.unique(day, return_index=True)
    totals = np.add.reduceat(amount[order], idx)
    when = days_ * DAY + (rng.uniform(20, 48, len(days_)) * HOUR).astype(np.int64)
    out = np.round(totals * rng.uniform(0.85, 0.97, len(days_)), 2)
    overseas = rng.random(len(days_)) < 0.6
    b.add(when[overseas], out[overseas], p.node(coll), abroad, "remittance", case=case)
    mules = b.external("X:P2P", max(1, int((~overseas).sum())))
    b.add(when[~overseas], out[~overseas], p.node(coll), mules[: (~overseas).sum()], "p2p",
          case=case)


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


def scatter_gather(p: Planter, case: int, rng, k: float) -> None:
    """A source scatters to intermediaries who all pay one sink."""
    m = int(np.clip(rng.poisson(3 + 5 * k), 3, 15))
    mids = _generic_members(p, rng, m, 0)
    ends = _generic_members(p, rng, 1, 1)  # one end is ours, the other at another bank
    src, sink = ends[0], ends[1]
    if rng.random() < 0.5:
        src, sink = sink, src
    p.b.label(case, mids, "facilitator")
    p.b.label(case, ends[p.b.node_bank_is_ours(ends)], "launderer")
    first, _ = p.span(rng, k)
    base = _base_amount(rng, k)
    t1 = p.b.clock(first + rng.integers(0, 5, m), rng, "business")
    _transfers(p, case, rng, t1, base * rng.uniform(0.9, 1.1, m), src, mids)
    t2 = t1 + (rng.uniform(0.5, 6, m) * DAY).astype(np.int64)
    _transfers(p, case, rng, t2, base * rng.uniform(0.9, 0.99, m), mids, sink)


def gather_scatter(p: Planter, case: int, rng, k: float) -> None:
    """Many sources pay one hub, which pays many targets."""
    n_in = int(np.clip(rng.poisson(3 + 5 * k), 3, 15))
    n_out = int(np.clip(rng.poisson(3 + 5 * k), 3, 15))
    ext_in = int(rng.integers(0, n_in // 2 + 1))
    srcs = _generic_members(p, rng, n_in - ext_in, ext_in)
    dsts = _generic_members(p, rng, n_out, 0)
    (hub,) = p.pick(rng, 1, "salaried", "gig_worker")
    p.b.label(case, srcs[: n_in - ext_in], "launderer")
    p.b.label(case, dsts, "launderer")
    p.b.label(case, p.node(hub), "facilitator")
    first, _ = p.span(rng, k)
    base = _base_amount(rng, k)
    t1 = p.b.clock(first + rng.integers(0, 10, n_in), rng, "business")
    _transfers(p, case, rng, t1, base * rng.uniform(0.9, 1.1, n_in), srcs, p.node(hub))
    total = base * n_in * 0.97
    t2 = p.b.clock(first + 10 + rng.integers(0, 10, n_out), rng, "business")
    _transfers(p, case, rng, t2, total / n_out * rng.uniform(0.9, 1.1, n_out), p.node(hub), dsts)


def _layers(p: Planter, case: int, rng, k: float, sizes: list[int]) -> None:
    """Complete transfers between consecutive layers of accounts."""
    layers = [_generic_members(p, rng, s, 0) for s in sizes]
    for i, layer in enumerate(layers):
        inner = 0 < i < len(layers) - 1
        p.b.label(case, layer, "facilitator" if inner else "launderer")
    first, _ = p.span(rng, k)
    base = _base_amount(rng, k)
    day = first
    for a, b_ in zip(layers[:-1], layers[1:], strict=True):
        src = np.repeat(a, len(b_))
        dst = np.tile(b_, len(a))
        ts = p.b.clock(day + rng.integers(0, 4, len(src)), rng, "business")
        amount = base / len(b_) * rng.uniform(0.85, 1.1, len(src))  # each splits its base
        _transfers(p, case, rng, ts, amount, src, dst)
        day += int(rng.integers(4, 10))


def bipartite(p: Planter, case: int, rng, k: float) -> None:
    """Every account of one set pays every account of another."""
    _layers(p, case, rng, k, [int(rng.integers(2, 5)), int(rng.integers(2, 6))])


def stack(p: Planter, case: int, rng, k: float) -> None:
    """Three layers, each paying every account of the next (a stacked bipartite)."""
    _layers(p, case, rng, k, [int(rng.integers(2, 5)) for _ in range(3)])


# ---------------------------------------------------------------------------
TypologyFn = Callable[[Planter, int, np.random.Generator, float], None]
PLANTERS: dict[str, TypologyFn] = {
    "funnel": funnel,
    "escort_ads_lodging": escort_ads_lodging,
    "collector": collector,
    "front_business": front_business,
    "structuring": structuring,
    "rapid_pass_through": rapid_pass_through,
    "controller_victims": controller_victims,
    "ocse_buyer": ocse_buyer,
    "sextortion_collector": sextortion_collector,
    "fan_in": fan_in,
    "fan_out": fan_out,
    "cycle": cycle,
    "scatter_gather": scatter_gather,
    "gather_scatter": gather_scatter,
    "bipartite": bipartite,
    "stack": stack,
}
