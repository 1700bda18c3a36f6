"""Ordinary banking of the benign population, one vectorised stream at a time."""

from __future__ import annotations

import numpy as np

from moneytrail.synth import catalog as C
from moneytrail.synth.builder import NONE, Builder
from moneytrail.synth.population import GROUP_CODE, Population

_WAGE = ("salaried", "business_traveller", "remitting_family", "night_worker")
_ADULTS = _WAGE + ("gig_worker", "student", "retiree")
# Card spending rates below are scaled by this, keeping a typical account at
# about 15-20 rows a month: enough for the indicators, small enough for samples.
SPEND_SCALE = 0.25


def _rows(rng, accts: np.ndarray, per_day, days: int):
    """Poisson number of events per account over the period, on random days."""
    lam = np.broadcast_to(np.asarray(per_day, dtype=float) * days, accts.shape)
    k = rng.poisson(lam)
    who = np.repeat(np.arange(len(accts)), k)
    return who, rng.integers(0, days, len(who))


def _periodic(rng, accts: np.ndarray, period: int, days: int, jitter: int = 0,
              phase: np.ndarray | None = None):
    """Events every ``period`` days from a random (or given) phase."""
    if phase is None:
        phase = rng.integers(0, period, len(accts))
    steps = np.arange(0, days + period, period)
    who = np.repeat(np.arange(len(accts)), len(steps))
    day = np.tile(steps, len(accts)) + phase[who]
    if jitter:
        day = day + rng.integers(-jitter, jitter + 1, len(day))
    keep = (day >= 0) & (day < days)
    return who[keep], day[keep]


def _monthly(b: Builder, rng, accts: np.ndarray, dom_lo: int, dom_hi: int):
    """One event per calendar month on a fixed day of the month per account."""
    starts = b.month_starts()
    dom = rng.integers(dom_lo, dom_hi + 1, len(accts))
    who = np.repeat(np.arange(len(accts)), len(starts))
    day = np.tile(starts, len(accts)) + dom[who] - 1
    keep = (day >= 0) & (day < b.days)
    return who[keep], day[keep]


def _elsewhere(b: Builder, rng, home: np.ndarray, share: float) -> np.ndarray:
    """Mostly the home city; a share of events in another domestic city."""
    away = rng.random(len(home)) < share
    other = rng.choice(b.n_domestic, size=len(home), p=b.city_weights)
    return np.where(away, other, home)


def plant_benign(b: Builder, pop: Population) -> dict[str, np.ndarray]:
    """Record the benign activity of every account; returns the external
    counterparty pools the typologies reuse (so they hide among them)."""
    g = pop.group
    node = pop.node
    days = b.days
    n = pop.n
    persons = np.flatnonzero(~pop.is_business)
    wage = np.flatnonzero(np.isin(g, [GROUP_CODE[x] for x in _WAGE]))
    adults = np.flatnonzero(np.isin(g, [GROUP_CODE[x] for x in _ADULTS]))

    # ---------------------------------------------------------------- income
    rng = b.rng("payroll")
    employers = b.external("X:EMP", max(8, n // 60))
    employer = employers[rng.integers(0, len(employers), n)]
    wage_amt = pop.income * 0.74 / 26
    # Cash businesses employ some of the wage earners and pay them themselves.
    cash_b = pop.of("cash_business")
    staff_pool = rng.permutation(np.intersect1d(wage, pop.of("salaried", "night_worker")))
    n_staff = rng.integers(2, 8, len(cash_b))
    staff_owner = np.repeat(cash_b, n_staff)[: len(staff_pool)]
    staff = staff_pool[: len(staff_owner)]
    employer[staff] = node[staff_owner]
    wage_amt[staff] = rng.uniform(700, 1500, len(staff))
    # paydays fall on a Friday (every other week, from one of two first Fridays)
    friday = (4 - b.start.weekday()) % 7
    who, day = _periodic(rng, wage, 14, days, phase=friday + 7 * rng.integers(0, 2, len(wage)))
    acct = wage[who]
    b.add(b.clock(day, rng, "early"), wage_amt[acct] * rng.normal(1, 0.01, len(acct)),
          employer[acct], node[acct], "ach", memo=b.text("PAYROLL DIRECT DEP"))
    # students: part-time pay for half of them
    students = pop.of("student")
    working = students[rng.random(len(students)) < 0.5]
    who, day = _periodic(rng, working, 14, days,
                         phase=friday + 7 * rng.integers(0, 2, len(working)))
    b.add(b.clock(day, rng, "early"), rng.uniform(250, 650, len(who)), employer[working[who]],
          node[working[who]], "ach", memo=b.text("PAYROLL DIRECT DEP"))
    # retirees: social security and a private pension
    retirees = pop.of("retiree")
    ssa = b.external("X:SSA", 1, bank="TREAS")
    who, day = _monthly(b, rng, retirees, 3, 3)
    b.add(b.clock(day, rng, "early"), rng.uniform(1100, 2900, len(retirees))[who], ssa[0],
          node[retirees[who]], "ach", memo=b.text("SOC SEC BENEFIT"))
    pensioned = retirees[rng.random(len(retirees)) < 0.55]
    funds = b.external("X:PEN", 6)
    fund = funds[rng.integers(0, len(funds), len(pensioned))]
    who, day = _monthly(b, rng, pensioned, 1, 1)
    b.add(b.clock(day, rng, "early"), rng.uniform(400, 2200, len(pensioned))[who], fund[who],
          node[pensioned[who]], "ach", memo=b.text("PENSION PMT"))

    # ------------------------------------------------------------- housing
    rng = b.rng("housing")
    # One rent payer per household: its first adult.
    payers = np.unique(pop.head[pop.head >= 0])
    landlords_int = pop.of("landlord")
    landlords_ext = b.external("X:LL", max(10, n // 40))
    internal = (rng.random(len(payers)) < 0.35) & (len(landlords_int) > 0)
    landlord = np.where(
        internal, node[landlords_int[rng.integers(0, max(1, len(landlords_int)), len(payers))]]
        if len(landlords_int) else landlords_ext[0],
        landlords_ext[rng.integers(0, len(landlords_ext), len(payers))])
    rent = np.clip(pop.income[payers] * rng.uniform(0.2, 0.33, len(payers)) / 12, 650, 4200)
    rent = np.round(rent / 25) * 25  # rents are round numbers
    who, day = _monthly(b, rng, payers, 1, 4)
    b.add(b.clock(day, rng, "day"), rent[who], node[payers[who]], landlord[who], "ach",
          memo=b.text("RENT"))
    utility = b.external("X:UTIL", 5)
    util_of = utility[rng.integers(0, len(utility), len(payers))]
    who, day = _monthly(b, rng, payers, 10, 20)
    b.add(b.clock(day, rng, "day"), rng.uniform(55, 240, len(who)), node[payers[who]],
          util_of[who], "ach", memo=b.text("ELECTRIC BILL"))
    phone_users = np.concatenate([adults, pop.of("teen")])
    who, day = _monthly(b, rng, phone_users, 5, 25)
    m = b.online_merchant("telecom", len(phone_users), rng)[who]
    b.card(b.clock(day, rng, "day"), node[phone_users[who]], m, b.ticket(m, rng))
    subs = np.concatenate([adults, pop.of("teen")])
    subs = subs[rng.random(len(subs)) < 0.6]
    who, day = _monthly(b, rng, subs, 1, 28)
    m = b.online_merchant("streaming", len(subs), rng)[who]
    b.card(b.clock(day, rng, "early"), node[subs[who]], m, b.m_median[m])

    # ------------------------------------------------------- card spending
    rng = b.rng("spending")
    rate = {  # per-day rates by group (cards), chosen for roughly 12-30 card rows a month
        "grocery": {"salaried": .2, "business_traveller": .12, "remitting_family": .22,
                    "gig_worker": .15, "student": .08, "retiree": .25, "night_worker": .18},
        "fast_food": {"salaried": .1, "business_traveller": .12, "remitting_family": .08,
                      "gig_worker": .2, "student": .3, "teen": .15, "night_worker": .2},
        "restaurant": {"salaried": .07, "business_traveller": .12, "remitting_family": .04,
                       "gig_worker": .04, "student": .04, "retiree": .06, "night_worker": .05},
        "fuel": {"salaried": .12, "business_traveller": .08, "remitting_family": .12,
                 "gig_worker": .3, "retiree": .08, "night_worker": .12},
        "convenience": {"salaried": .06, "gig_worker": .1, "student": .1, "teen": .06,
                        "night_worker": .12, "remitting_family": .05},
        "pharmacy": {"salaried": .03, "retiree": .09, "remitting_family": .03,
                     "student": .02, "night_worker": .03},
        "cosmetics": {"salaried": .015, "student": .02, "teen": .01},
        "clothing": {"salaried": .03, "remitting_family": .03, "student": .03, "teen": .02,
                     "retiree": .02},
        "clothing_women": {"salaried": .012, "student": .01},
        "bar": {"salaried": .03, "student": .06, "night_worker": .05, "business_traveller": .04},
        "parking": {"salaried": .04, "business_traveller": .06, "night_worker": .04},
        "electronics": {"salaried": .006, "student": .008, "gig_worker": .005},
        "hardware": {"salaried": .02, "retiree": .02},
    }
    online_rate = {
        "ecommerce": {"salaried": .06, "business_traveller": .06, "student": .05, "retiree": .03,
                      "remitting_family": .03, "gig_worker": .04, "night_worker": .04},
        "digital_games": {"teen": .12, "student": .04, "salaried": .01},
        "digital_goods": {"teen": .05, "student": .05, "salaried": .02},
        "rideshare": {"salaried": .02, "student": .06, "business_traveller": .04,
                      "night_worker": .03},
        "food_delivery": {"salaried": .03, "student": .06, "night_worker": .05,
                          "business_traveller": .03},
        "giftcards": {"teen": .01, "salaried": .004},
    }
    female_boost = np.where(pop.female, 1.0, 0.35)
    for key, by_group in rate.items():
        per_day = np.zeros(n)
        for grp, r in by_group.items():
            per_day[g == GROUP_CODE[grp]] = r
        if key in ("cosmetics", "clothing_women"):
            per_day = per_day * female_boost
        accts = np.flatnonzero(per_day > 0)
        per_acct = per_day[accts] * rng.uniform(0.5, 1.5, len(accts)) * SPEND_SCALE
        who, day = _rows(rng, accts, per_acct, days)
        acct = accts[who]
        city = _elsewhere(b, rng, pop.home[acct], 0.05)
        m = b.local_merchant(key, city, rng)
        kind = "evening" if key == "bar" else "day"
        b.card(_when(b, rng, day, kind, g[acct]), node[acct], m, b.ticket(m, rng))
    for key, by_group in online_rate.items():
        per_day = np.zeros(n)
        for grp, r in by_group.items():
            per_day[g == GROUP_CODE[grp]] = r
        accts = np.flatnonzero(per_day > 0)
        who, day = _rows(rng, accts, per_day[accts] * SPEND_SCALE, days)
        acct = accts[who]
        m = b.online_merchant(key, len(who), rng)
        amount = b.ticket(m, rng)
        if key == "giftcards":
            amount = rng.choice([25.0, 50.0, 100.0], len(who))
        # a ride or a delivery happens where the customer is, not at the app's seat
        city = (_elsewhere(b, rng, pop.home[acct], 0.05) if key in ("rideshare", "food_delivery")
                else b.m_city[m])
        b.add(_when(b, rng, day, "day", g[acct]), amount, node[acct], b.m_node[m], "card",
              merchant=m, city=city)
    _habits(b, b.rng("habits"), pop, adults)
    _wires(b, b.rng("wires"), pop, adults)

    # --------------------------------------------------------------- cash
    rng = b.rng("cash")
    users = np.concatenate([adults, pop.of("teen")])
    per_day = np.where(g[users] == GROUP_CODE["retiree"], 0.03, 0.05)
    per_day = np.where(g[users] == GROUP_CODE["teen"], 0.01, per_day)
    who, day = _rows(rng, users, per_day, days)
    acct = users[who]
    amount = rng.choice([20, 40, 60, 80, 100, 120, 200, 300, 400], len(acct),
                        p=[.08, .2, .16, .12, .2, .06, .12, .04, .02]).astype(float)
    is_retiree = g[acct] == GROUP_CODE["retiree"]
    amount[is_retiree] = np.round(rng.uniform(100, 600, is_retiree.sum()), -1)
    city = _elsewhere(b, rng, pop.home[acct], 0.06)
    b.add(b.clock(day, rng, "day"), amount, node[acct], b.cash, "cash", mcc=6011, city=city)
    # occasional cash deposits (gifts, sold items, refunds)
    who, day = _rows(rng, adults, 0.006, days)
    acct = adults[who]
    b.add(b.clock(day, rng, "business"), np.round(rng.lognormal(np.log(300), 0.8, len(acct)), -1),
          b.cash, node[acct], "cash", city=pop.home[acct])
    # night-shift workers bank their cash tips at night (FINTRAC P-1 look-alike)
    night = pop.of("night_worker")
    who, day = _rows(rng, night, rng.uniform(0.15, 0.5, len(night)), days)
    acct = night[who]
    b.add(b.clock(day, rng, "night"), np.round(rng.lognormal(np.log(140), 0.5, len(acct)), 0),
          b.cash, node[acct], "cash", city=pop.home[acct])

    # ---------------------------------------------------------------- p2p
    rng = b.rng("p2p")
    senders = np.concatenate([adults, pop.of("teen")])
    per_day = np.where(g[senders] == GROUP_CODE["student"], 0.1, 0.04)
    per_day = np.where(g[senders] == GROUP_CODE["teen"], 0.03, per_day)
    who, day = _rows(rng, senders, per_day, days)
    src = senders[who]
    # friends mostly live in the same city: pick a random person, prefer same-city
    dst = persons[rng.integers(0, len(persons), len(src))]
    dst = np.where(dst == src, persons[(np.searchsorted(persons, dst) + 1) % len(persons)], dst)
    memos = b.text_codes(C.BENIGN_P2P_MEMOS)
    amount = rng.lognormal(np.log(35), 0.8, len(src))
    amount = np.where(rng.random(len(src)) < 0.4, np.round(amount, -1) + 0.0, amount)
    b.add(b.clock(day, rng, "evening"), amount, node[src], node[dst], "p2p",
          memo=memos[rng.integers(0, len(memos), len(src))])
    # teens: weekly allowance from the household's first adult
    teens = pop.of("teen")
    if len(teens):
        parent = pop.head[teens]
        who, day = _periodic(rng, teens, 7, days)
        b.add(b.clock(day, rng, "evening"), rng.choice([10., 15., 20., 25., 30., 40.], len(who)),
              node[parent[who]], node[teens[who]], "p2p", memo=b.text("allowance"))
    # teens: now and then a gift card pushed onto the account
    gifted = teens[rng.random(len(teens)) < 0.3]
    who, day = _rows(rng, gifted, 1 / 45, days)
    prepaid = b.external("prepaid programme", 2, bank="PREPAID")
    b.add(b.clock(day, rng, "evening"), rng.choice([25.0, 50.0, 100.0], len(who)),
          prepaid[who % 2], node[gifted[who]], "p2p", memo=b.text("prepaid card transfer"))
    # students: a monthly allowance from family at another bank
    fam = b.external("X:FAM", max(5, len(students)))
    who, day = _monthly(b, rng, students, 1, 5)
    b.add(b.clock(day, rng, "evening"), np.round(rng.uniform(200, 900, len(students)), -1)[who],
          fam[who % len(fam)], node[students[who]], "p2p", memo=b.text("for school"))

    # ---------------------------------------------------------- gig workers
    rng = b.rng("gig")
    gig = pop.of("gig_worker")
    platform = b.external("X:GIG", 3, bank="PLATFORM")
    who, day = _periodic(rng, gig, 7, days)
    b.add(b.clock(day, rng, "early"), rng.lognormal(np.log(380), 0.5, len(who)),
          platform[who % 3], node[gig[who]], "ach", memo=b.text("DRIVER PAYOUT"))
    # Many small P2P credits from many distinct customers (HT-P2P-01 look-alike).
    clients_ext = b.external("X:P2P", max(50, len(gig) * 30))
    who, day = _rows(rng, gig, rng.uniform(0.1, 0.6, len(gig)), days)
    internal = rng.random(len(who)) < 0.35
    src = np.where(internal, node[persons[rng.integers(0, len(persons), len(who))]],
                   clients_ext[rng.integers(0, len(clients_ext), len(who))])
    memos = b.text_codes(C.GIG_MEMOS)
    b.add(b.clock(day, rng, "day"), np.round(rng.lognormal(np.log(45), 0.5, len(who))),
          src, node[gig[who]], "p2p", memo=memos[rng.integers(0, len(memos), len(who))])
    # Some are tutors and youth coaches paid by many young people, once or twice
    # each, in small amounts (the look-alike of a sextortion collector).
    coaches = gig[rng.random(len(gig)) < 0.15]
    young = np.flatnonzero(pop.age <= 19)
    if len(coaches) and len(young):
        who, day = _rows(rng, coaches, rng.uniform(0.1, 0.3, len(coaches)), days)
        payer = young[rng.integers(0, len(young), len(who))]
        memos = b.text_codes(("team fees", "tutoring", "lessons", "camp", "jersey", ""))
        b.add(b.clock(day, rng, "evening"), rng.choice([20.0, 25.0, 40.0, 50.0, 60.0, 80.0],
              len(who)), node[payer], node[coaches[who]], "p2p",
              memo=memos[rng.integers(0, len(memos), len(who))])
    # Some are travelling vendors (markets, fairs, tours) who bank cash takings in
    # the towns they work, buy fuel and a motel room there (a funnel look-alike).
    vendors = gig[rng.random(len(gig)) < 0.12]
    if len(vendors):
        circuit = rng.choice(b.n_domestic, size=(len(vendors), 3), p=b.city_weights)
        who, day = _rows(rng, vendors, rng.uniform(0.06, 0.2, len(vendors)), days)
        city = circuit[who, rng.integers(0, 3, len(who))]
        b.add(b.clock(day, rng, "day"), np.round(rng.lognormal(np.log(700), 0.6, len(who)), -1),
              b.cash, node[vendors[who]], "cash", city=city)
        m = b.local_merchant("fuel", city, rng)
        b.card(b.clock(day, rng, "day"), node[vendors[who]], m, b.ticket(m, rng, 1.5))
        stay = rng.random(len(who)) < 0.4
        m = b.local_merchant("hotel", city[stay], rng)
        b.card(b.clock(day[stay], rng, "evening"), node[vendors[who[stay]]], m,
               b.ticket(m, rng, 0.7))
    # ... swept weekly to their own savings at another bank (a pass-through look-alike)
    savings = b.external("X:SAV", max(1, len(gig)))
    who, day = _periodic(rng, gig, 7, days, jitter=1)
    b.add(b.clock(day, rng, "evening"), np.round(rng.lognormal(np.log(300), 0.5, len(who)), -1),
          node[gig[who]], savings[who], "p2p", memo=b.text("to savings"))

    # ---------------------------------------------------- remitting families
    rng = b.rng("remit")
    rem = pop.of("remitting_family")
    cc_names = [c for c, _ in C.REMITTANCE_COUNTRIES]
    cw = np.array([w for _, w in C.REMITTANCE_COUNTRIES])
    fam_cc = rng.choice(len(cc_names), len(rem), p=cw / cw.sum())
    bene = np.empty(len(rem), dtype=np.int64)
    for ci, cc in enumerate(cc_names):
        mask = fam_cc == ci
        bene[mask] = b.external(f"F:{cc}:", int(mask.sum()), country=cc, bank="MSB")
    memos = b.text_codes(C.REMITTANCE_MEMOS)
    monthly_memo = memos[rng.integers(0, len(memos), len(rem))]
    for twice in (False, True):
        sel = np.flatnonzero(rng.random(len(rem)) < (0.35 if twice else 1.0))
        who, day = _monthly(b, rng, rem[sel], 1 if not twice else 14, 6 if not twice else 20)
        base = rng.uniform(150, 900, len(sel))
        kind_night = rng.random(len(who)) < 0.15  # shift workers send after their shift
        ts = np.where(kind_night, b.clock(day, rng, "night"), b.clock(day, rng, "evening"))
        b.add(ts, np.round(base[who] * rng.normal(1, 0.05, len(who)), -1), node[rem[sel][who]],
              bene[sel][who], "remittance", memo=monthly_memo[sel][who])

    # --------------------------------------------------------------- travel
    rng = b.rng("travel")
    _trips(b, rng, pop, pop.of("salaried", "remitting_family", "retiree", "night_worker"),
           rate=1 / 150, reimbursed=False)
    bt = pop.of("business_traveller")
    _trips(b, rng, pop, bt, rate=1 / 8, reimbursed=True, employer=employer)

    # ---------------------------------------------------- cash businesses
    _cash_businesses(b, b.rng("cash-business"), pop)
    _landlords(b, b.rng("landlord"), pop)
    return {"employers": employers, "p2p_clients": clients_ext, "landlords": landlords_ext}


def _when(b: Builder, rng, day: np.ndarray, kind: str, group: np.ndarray) -> np.ndarray:
    """Event times; night-shift workers shop at any hour."""
    ts = b.clock(day, rng, kind)
    night = group == GROUP_CODE["night_worker"]
    if night.any():
        ts[night] = b.clock(day[night], rng, "any")
    return ts


def _habits(b: Builder, rng, pop: Population, adults: np.ndarray) -> None:
    """Legitimate minorities whose spend touches the indicator merchant codes:
    crypto savers, prepaid-card users, dating and adult-site subscribers, VPN
    users, people selling things on classified boards, the odd jewellery buy."""
    node = pop.node
    young = adults[pop.age[adults] < 60]
    men = adults[~pop.female[adults]]
    habits = (  # (merchant key, who, share of them, events per month, amount or None)
        ("crypto", adults[pop.age[adults] < 55], 0.06, 1.5, None),
        ("prepaid", adults, 0.03, 1.0, (50.0, 100.0, 200.0)),
        ("escort_ads", adults, 0.01, 0.6, None),  # selling a sofa on a classified board
        ("adult", men, 0.03, 3.0, None),
        ("vpn", adults, 0.06, 1.0, None),
        ("jewellery", adults, 0.01, 0.3, None),
    )
    for key, pool, share, per_month, fixed in habits:
        users = pool[rng.random(len(pool)) < share]
        who, day = _rows(rng, users, per_month / 30.0, b.days)
        m = b.online_merchant(key, len(who), rng)
        amount = (b.ticket(m, rng) if fixed is None
                  else rng.choice(np.array(fixed), len(who)))
        kind = "evening" if key in ("adult", "escort_ads") else "day"
        b.card(b.clock(day, rng, kind), node[users[who]], m, amount)
    # dating-site subscriptions: the same boards escort ads use (MCC 7273)
    daters = young[rng.random(len(young)) < 0.05]
    who, day = _monthly(b, rng, daters, 1, 28)
    dating = b.online["escort_ads"][b.m_mcc[b.online["escort_ads"]] == 7273]
    m = dating[rng.integers(0, len(dating), len(who))]
    b.card(b.clock(day, rng, "evening"), node[daters[who]], m, b.m_median[m])


_WIRE_OUT_MEMOS = ("car purchase", "tuition", "closing costs", "loan repayment", "invoice",
                   "deposit", "consulting", "services", "goods", "repayment", "payment", "",
                   "")
_WIRE_IN_MEMOS = ("inheritance", "bonus", "loan", "refund", "sale proceeds", "", "")


def _wires(b: Builder, rng, pop: Population, adults: np.ndarray) -> None:
    """Occasional large wires in and out: cars, tuition, house closings, family loans."""
    node = pop.node
    others = b.external("wire counterparty", max(20, len(adults) // 10))
    for direction, rate, median, memos in (("out", 1 / 300, 3500, _WIRE_OUT_MEMOS),
                                           ("in", 1 / 400, 2500, _WIRE_IN_MEMOS)):
        who, day = _rows(rng, adults, rate, b.days)
        amount = np.round(rng.lognormal(np.log(median), 0.9, len(who)), 0)
        other = others[rng.integers(0, len(others), len(who))]
        codes = b.text_codes(memos)
        memo = codes[rng.integers(0, len(codes), len(who))]
        src, dst = (node[adults[who]], other) if direction == "out" else (other, node[adults[who]])
        b.add(b.clock(day, rng, "business"), amount, src, dst, "wire", memo=memo)


def _trips(b: Builder, rng, pop: Population, travellers: np.ndarray, rate: float,
           reimbursed: bool, employer: np.ndarray | None = None) -> None:
    """Trips with a flight, a hotel stay at checkout, meals and taxis in the
    destination. Business travellers stay in many cities (HT-HOTEL-01 look-alike)."""
    node = pop.node
    who, day = _rows(rng, travellers, rate, b.days)
    acct = travellers[who]
    k = len(acct)
    if k == 0:
        return
    abroad = rng.random(k) < (0.05 if reimbursed else 0.12)
    dest = np.where(abroad, rng.integers(b.n_domestic, b.n_domestic + len(C.FOREIGN_CITIES), k),
                    rng.choice(b.n_domestic, size=k, p=b.city_weights))
    dest = np.where(dest == pop.home[acct], (dest + 1) % b.n_domestic, dest)
    nights = np.where(reimbursed, rng.integers(1, 4, k), rng.integers(2, 7, k))
    # flight bought ahead
    m = b.online_merchant("airline", k, rng)
    fare = b.ticket(m, rng) * np.where(abroad, 2.5, 1.0)
    b.card(b.clock(day - rng.integers(2, 21, k), rng, "day"), node[acct], m, fare)
    # hotel charged at checkout: nightly rate x nights plus ~14% tax: rarely round
    hotel = b.local_merchant("hotel", dest, rng)
    room = b.ticket(hotel, rng) * nights * 1.1437
    checkout = day + nights
    b.card(b.clock(checkout, rng, "business"), node[acct], hotel, room)
    # meals and taxis on each night
    per_night = np.repeat(np.arange(k), nights)
    night_day = day[per_night] + (np.arange(len(per_night)) - np.repeat(
        np.cumsum(nights) - nights, nights))
    rest = b.local_merchant("restaurant", dest[per_night], rng)
    b.card(b.clock(night_day, rng, "evening"), node[acct[per_night]], rest, b.ticket(rest, rng))
    n_taxi = rng.poisson(1.3 if reimbursed else 0.6, len(per_night))
    tx = np.repeat(per_night, n_taxi)
    tday = np.repeat(night_day, n_taxi)
    taxi = np.where(rng.random(len(tx)) < 0.5, b.local_merchant("taxi", dest[tx], rng),
                    b.online_merchant("rideshare", len(tx), rng))
    cities = np.where(taxi >= 0, dest[tx], NONE)
    ts = b.clock(tday, rng, "any")
    b.add(ts, b.ticket(taxi, rng), node[acct[tx]], b.m_node[taxi], "card", merchant=taxi,
          city=cities)
    if reimbursed and employer is not None:
        b.add(b.clock(checkout + rng.integers(3, 12, k), rng, "early"),
              np.round(fare + room + 40 * nights, 2), employer[acct], node[acct], "ach",
              memo=b.text("EXPENSE REIMB"))


def _cash_businesses(b: Builder, rng, pop: Population) -> None:
    """Shops, salons, restaurants and bars that bank their takings in cash most
    days (some near, rarely over, 10,000), get card settlements, pay staff
    (payroll is recorded with the wage stream), suppliers, rent and ads."""
    node = pop.node
    biz = pop.of("cash_business")
    if len(biz) == 0:
        return
    days = b.days
    kind = pop.business_kind[biz]
    turnover = pop.income[biz]
    cash_share = rng.uniform(0.25, 0.7, len(biz))
    p_bank = rng.uniform(0.45, 0.95, len(biz))  # how often they go to the bank
    # daily takings: lognormal per day, deposit every banking day the cash since last
    d = np.arange(days)
    banked = rng.random((len(biz), days)) < p_bank[:, None]
    who, day = np.nonzero(banked)
    gap = 1.0 / p_bank[who]
    daily = turnover[who] * cash_share[who] / 360.0
    amount = daily * gap * rng.lognormal(0.0, 0.35, len(who))
    weekend = ((d[day] + b.start.weekday()) % 7) >= 5
    amount = np.where(weekend, amount * 1.3, amount)
    labels = np.array([k[0] for k in C.CASH_BUSINESS_KINDS])
    late = np.isin(labels[kind[who]], ["bar", "restaurant"]) & (rng.random(len(who)) < 0.4)
    ts = np.where(late, b.clock(day, rng, "night"), b.clock(day, rng, "business"))
    b.add(ts, np.round(amount, 2), b.cash, node[biz[who]], "cash", city=pop.home[biz[who]])
    acquirer = b.external("X:ACQ", 2, bank="ACQ")
    # card settlements from the acquirer, on weekdays (ACH does not settle at weekends)
    weekday = ((np.arange(days) + b.start.weekday()) % 7) < 5
    who, day = np.nonzero((rng.random((len(biz), days)) < 0.95) & weekday[None, :])
    amount = turnover[who] * (1 - cash_share[who]) / 250.0 * rng.lognormal(0, 0.3, len(who))
    b.add(b.clock(day, rng, "early"), amount, acquirer[who % 2], node[biz[who]], "ach",
          memo=b.text("MERCHANT SETTLEMENT"))
    # suppliers weekly, rent monthly, advertising monthly, owner draw monthly
    suppliers = b.external("X:SUP", max(5, len(biz) // 3))
    who, day = _periodic(rng, biz, 7, days, jitter=1)
    by_wire = rng.random(len(who)) < 0.2  # some suppliers want a wire
    amount = turnover[who] * 0.3 / 52 * rng.lognormal(0, .2, len(who))
    supplier = suppliers[rng.integers(0, len(suppliers), len(who))]
    for channel, sel in (("ach", ~by_wire), ("wire", by_wire)):
        b.add(b.clock(day[sel], rng, "business"), amount[sel], node[biz[who[sel]]],
              supplier[sel], channel, memo=b.text("INVOICE"))
    landlords = b.external("X:CRE", max(3, len(biz) // 4))
    who, day = _monthly(b, rng, biz, 1, 3)
    b.add(b.clock(day, rng, "business"), np.round(turnover * 0.08 / 12 / 50)[who] * 50,
          node[biz[who]], landlords[who % len(landlords)], "ach", memo=b.text("LEASE"))
    adv = biz[rng.random(len(biz)) < 0.5]
    who, day = _monthly(b, rng, adv, 5, 25)
    m = b.online_merchant("advertising", len(who), rng)
    b.card(b.clock(day, rng, "business"), node[adv[who]], m, b.ticket(m, rng))
    who, day = _monthly(b, rng, biz, 25, 28)
    b.add(b.clock(day, rng, "evening"), np.round(turnover * 0.06 / 12, -1)[who],
          node[biz[who]], node[pop.owner[biz[who]]], "p2p", memo=b.text("owner draw"))


def _landlords(b: Builder, rng, pop: Population) -> None:
    """Property managers: many tenants pay in (recorded with rent), the
    mortgage, repairs and an owner draw go out."""
    node = pop.node
    ll = pop.of("landlord")
    if len(ll) == 0:
        return
    lenders = b.external("X:MORT", 4)
    who, day = _monthly(b, rng, ll, 5, 10)
    b.add(b.clock(day, rng, "business"), np.round(pop.income[ll] * 0.25 / 12, -1)[who],
          node[ll[who]], lenders[who % 4], "ach", memo=b.text("MORTGAGE PMT"))
    who, day = _rows(rng, ll, 0.08, b.days)
    m = b.local_merchant("hardware", pop.home[ll[who]], rng)
    b.card(b.clock(day, rng, "business"), node[ll[who]], m, b.ticket(m, rng, 3.0))
    who, day = _monthly(b, rng, ll, 20, 28)
    b.add(b.clock(day, rng, "evening"), np.round(pop.income[ll] * 0.1 / 12, -1)[who],
          node[ll[who]], node[pop.owner[ll[who]]], "p2p", memo=b.text("owner draw"))
