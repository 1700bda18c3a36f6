"""The benign population: account holders, their KYC data and their ordinary
banking, including the look-alike groups whose legitimate activity resembles
the trafficking indicators (hotel-hopping travellers, cash businesses, remitting
families, gig workers with many small P2P credits, night-shift cash, landlords).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.synth import catalog as C
from moneytrail.synth.builder import Builder

# Look-alike groups (lookalikes.csv "group"); each benign account is in one.
PERSON_GROUPS: tuple[tuple[str, float], ...] = (
    ("salaried", 0.44),
    ("business_traveller", 0.05),
    ("remitting_family", 0.08),
    ("gig_worker", 0.07),
    ("student", 0.08),
    ("teen", 0.05),
    ("retiree", 0.13),
    ("night_worker", 0.04),
)
BUSINESS_GROUPS: tuple[tuple[str, float], ...] = (
    ("cash_business", 0.045),
    ("landlord", 0.015),
)
LOOKALIKE_GROUPS: tuple[str, ...] = tuple(g for g, _ in PERSON_GROUPS + BUSINESS_GROUPS)
# Massage-parlour fronts exist only as planted cases: no benign stream touches them.
FRONT = "front"
GROUP_CODE = {g: i for i, g in enumerate(LOOKALIKE_GROUPS + (FRONT,))}
# Groups that draw a salary from an employer.
_WAGE_GROUPS = ("salaried", "business_traveller", "remitting_family", "night_worker")


@dataclass
class Population:
    """Per-account arrays, indexed by position (not by account id)."""

    node: np.ndarray  # builder node index
    group: np.ndarray  # GROUP_CODE
    is_business: np.ndarray
    home: np.ndarray  # home city index
    age: np.ndarray
    income: np.ndarray  # yearly, persons; yearly turnover scale for businesses
    household: np.ndarray  # household number (persons), -1 for businesses
    head: np.ndarray  # persons: position of the household's first adult; -1 for businesses
    owner: np.ndarray  # for businesses: position of the owner, else -1
    business_kind: np.ndarray  # index into C.CASH_BUSINESS_KINDS, -1 if none
    first: np.ndarray  # first-name index
    last: np.ndarray  # last-name index
    female: np.ndarray
    n: int

    def of(self, *groups: str) -> np.ndarray:
        codes = [GROUP_CODE[g] for g in groups]
        return np.flatnonzero(np.isin(self.group, codes))


def build_population(b: Builder, n_accounts: int, n_front: int = 0) -> Population:
    rng = b.rng("population")
    n = int(n_accounts)
    weights = np.array([w for _, w in PERSON_GROUPS + BUSINESS_GROUPS])
    counts = np.floor(weights / weights.sum() * (n - n_front)).astype(int)
    counts[0] += n - n_front - counts.sum()  # salaried absorbs rounding
    counts = np.append(counts, n_front)
    group = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    is_business = group >= len(PERSON_GROUPS)
    names = [f"A{x:07d}" for x in (rng.choice(9_000_000, n, replace=False) + 1_000_000)]
    node = b.add_nodes(names, country=C.HOME_COUNTRY, bank=C.OUR_BANK)

    home = rng.choice(b.n_domestic, size=n, p=b.city_weights)
    age = np.clip(rng.normal(42, 13, n), 21, 64).astype(np.int64)
    g = group
    age[g == GROUP_CODE["student"]] = rng.integers(18, 25, (g == GROUP_CODE["student"]).sum())
    age[g == GROUP_CODE["teen"]] = rng.integers(14, 18, (g == GROUP_CODE["teen"]).sum())
    age[g == GROUP_CODE["retiree"]] = rng.integers(65, 91, (g == GROUP_CODE["retiree"]).sum())
    income = np.exp(rng.normal(np.log(58_000), 0.45, n))
    income[g == GROUP_CODE["business_traveller"]] *= 1.6
    is_student = g == GROUP_CODE["student"]
    income[is_student] = rng.uniform(6_000, 16_000, is_student.sum())
    female = rng.random(n) < 0.5
    first = np.where(female, rng.integers(0, len(C.FIRST_NAMES_F), n),
                     rng.integers(0, len(C.FIRST_NAMES_M), n))
    last = rng.integers(0, len(C.LAST_NAMES), n)

    # Households: adults are cut into groups of 1-4 sharing an address; teens join
    # a household of an adult (their parent) in the same city.
    household = np.full(n, -1, dtype=np.int64)
    persons = np.flatnonzero(~is_business)
    teens = persons[g[persons] == GROUP_CODE["teen"]]
    adults = rng.permutation(persons[g[persons] != GROUP_CODE["teen"]])
    sizes = rng.choice([1, 2, 3, 4], size=len(adults), p=[0.45, 0.33, 0.14, 0.08])
    hh_of_adult = np.repeat(np.arange(len(sizes)), sizes)[: len(adults)]
    household[adults] = hh_of_adult
    # hh_of_adult counts up from 0 without gaps, so its first occurrences are the heads
    _, first_idx = np.unique(hh_of_adult, return_index=True)
    first_of_hh = adults[first_idx]
    heads = first_of_hh
    home[adults] = home[first_of_hh[hh_of_adult]]
    same_name = rng.random(len(adults)) < 0.7
    last[adults] = np.where(same_name, last[first_of_hh[hh_of_adult]], last[adults])
    head = np.full(n, -1, dtype=np.int64)
    head[adults] = first_of_hh[hh_of_adult]
    if len(teens) and len(heads):
        parent = heads[rng.integers(0, len(heads), len(teens))]
        household[teens] = household[parent]
        home[teens] = home[parent]
        last[teens] = last[parent]
        head[teens] = parent

    # Businesses: an owner among the working adults, a kind for cash businesses.
    business = np.flatnonzero(is_business)
    workers = np.flatnonzero(np.isin(g, [GROUP_CODE[x] for x in _WAGE_GROUPS]))
    owner = np.full(n, -1, dtype=np.int64)
    owner[business] = rng.choice(workers, size=len(business), replace=False)
    home[business] = home[owner[business]]
    kind_w = np.array([w for *_, w in C.CASH_BUSINESS_KINDS])
    business_kind = np.full(n, -1, dtype=np.int64)
    cash_b = np.flatnonzero(g == GROUP_CODE["cash_business"])
    business_kind[cash_b] = rng.choice(len(kind_w), size=len(cash_b), p=kind_w / kind_w.sum())
    income[business] = np.exp(rng.normal(np.log(450_000), 0.6, len(business)))
    # A few big cash businesses whose daily takings come near (and now and then
    # over) the 10,000 reporting threshold: the structuring look-alike.
    big = cash_b[rng.random(len(cash_b)) < 0.15]
    income[big] = rng.uniform(1_800_000, 3_200_000, len(big))
    return Population(node=node, group=group, is_business=is_business, home=home, age=age,
                      income=income, household=household, head=head, owner=owner,
                      business_kind=business_kind, first=first, last=last, female=female, n=n)


# ---------------------------------------------------------------------------
# KYC table
# ---------------------------------------------------------------------------
def accounts_frame(b: Builder, pop: Population, overrides: dict[str, dict[int, str]]
                   ) -> pl.DataFrame:
    """The accounts table. ``overrides`` maps a column to {position: value} for the
    identifiers the planted cases share (controllers with their victims)."""
    rng = b.rng("kyc")
    n = pop.n
    start = np.datetime64(b.start.date(), "D")
    first = np.where(pop.female, np.array(C.FIRST_NAMES_F, dtype=object)[
        np.minimum(pop.first, len(C.FIRST_NAMES_F) - 1)],
        np.array(C.FIRST_NAMES_M, dtype=object)[np.minimum(pop.first, len(C.FIRST_NAMES_M) - 1)])
    last = np.array(C.LAST_NAMES, dtype=object)[pop.last]
    city = np.array(b.city_names, dtype=object)[pop.home]
    person_name = first + " " + last

    # Addresses, IPs and devices: per household for persons, own for businesses.
    key = np.where(pop.household >= 0, pop.household, 10_000_000 + np.arange(n))
    _, inv = np.unique(key, return_inverse=True)
    n_keys = inv.max() + 1
    house_no = rng.integers(1, 9999, n_keys)[inv]
    street = np.array(C.STREETS, dtype=object)[rng.integers(0, len(C.STREETS), n_keys)][inv]
    suffix = np.array(C.STREET_SUFFIXES, dtype=object)[
        rng.integers(0, len(C.STREET_SUFFIXES), n_keys)][inv]
    unit = rng.integers(0, 40, n_keys)[inv]
    address = (house_no.astype(str).astype(object) + " " + street + " " + suffix
               + np.where(unit < 12, " Apt " + (unit + 1).astype(str).astype(object), "")
               + ", " + city)
    ip_parts = rng.integers(1, 255, (n_keys, 4))
    ip_parts[:, 0] = rng.choice([24, 67, 73, 98, 108, 174], n_keys)
    ip = np.array([f"{a}.{b_}.{c}.{d}" for a, b_, c, d in ip_parts.tolist()], dtype=object)[inv]
    # About one household in six shares a device (a family tablet used for banking).
    device = np.array([f"dev-{x:012x}" for x in rng.integers(0, 2**48, n).tolist()], dtype=object)
    hh_device = np.array([f"dev-{x:012x}" for x in rng.integers(0, 2**48, n_keys).tolist()],
                         dtype=object)[inv]
    share_dev = (rng.random(n_keys) < 0.17)[inv] & (pop.household >= 0)
    device = np.where(share_dev, hh_device, device)
    area = rng.integers(201, 990, n)
    phone = np.array([f"+1-{a}-{p // 10000:03d}-{p % 10000:04d}"
                      for a, p in zip(area.tolist(), rng.integers(2_000_000, 9_999_999, n).tolist(),
                                      strict=True)], dtype=object)
    dom = np.array(C.EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(C.EMAIL_DOMAINS), n)]
    num = rng.integers(1, 999, n).astype(str).astype(object)
    email = (np.char.lower(first.astype(str)).astype(object) + "."
             + np.char.lower(last.astype(str)).astype(object) + num + "@" + dom)
    email = np.char.replace(email.astype(str), " ", "").astype(object)

    name = person_name.copy()
    category = np.full(n, None, dtype=object)
    bus = np.flatnonzero(pop.is_business)
    owner = pop.owner[bus]
    kinds = pop.business_kind[bus]
    for j, (pos, k) in enumerate(zip(bus.tolist(), kinds.tolist(), strict=True)):
        if pop.group[pos] == GROUP_CODE[FRONT]:
            name[pos] = f"{C.FRONT_BUSINESS_NAMES[j % len(C.FRONT_BUSINESS_NAMES)]}"
            category[pos] = "massage"
        elif k >= 0:
            label, _mcc, patterns, _w = C.CASH_BUSINESS_KINDS[k]
            pattern = patterns[int(rng.integers(0, len(patterns)))]
            name[pos] = f"{last[owner[j]]}'s {pattern}" if j % 2 else f"{city[pos]} {pattern}"
            category[pos] = label
        else:
            name[pos] = f"{last[owner[j]]} Properties LLC"
            category[pos] = "property management"
        slug = "".join(ch for ch in str(name[pos]).lower() if ch.isalnum())[:20]
        email[pos] = f"info@{slug}.com"
    # A business shares its phone with its owner most of the time.
    share_phone = rng.random(len(bus)) < 0.6
    phone[bus[share_phone]] = phone[owner[share_phone]]

    age = pop.age.copy()
    birth = start - (age * 365.25).astype("timedelta64[D]") - rng.integers(
        0, 365, n).astype("timedelta64[D]")
    # minors' custodial accounts open from age 12; adults' from 16
    tenure = rng.integers(30, 7300, n)
    tenure = np.minimum(tenure, np.maximum((age - np.where(age < 18, 12, 16)) * 365, 30))
    opened = start - tenure.astype("timedelta64[D]")

    # Planted cases share identifiers: "@<position>" copies that account's value.
    cols = {S.ADDRESS: address, S.PHONE: phone, S.EMAIL: email, S.DEVICE_ID: device, S.IP: ip}
    for column, values in overrides.items():
        target = cols.get(column)
        if target is None:
            continue
        original = target.copy()
        for pos, value in sorted(values.items()):
            target[pos] = original[int(value[1:])] if value.startswith("@") else value
            if column == S.ADDRESS and value.startswith("@"):
                city[pos] = city[int(value[1:])]  # the address names its city
    opened_override = overrides.get(S.OPENED_AT, {})
    for pos, value in opened_override.items():
        opened[pos] = np.datetime64(value, "D")

    holder_num = rng.choice(9_000_000, n, replace=False) + 1_000_000
    frame = pl.DataFrame(
        {
            S.ACCOUNT_ID: [b.node_names[x] for x in pop.node.tolist()],
            S.HOLDER_ID: [("B" if isb else "H") + f"{h:07d}"
                          for isb, h in zip(pop.is_business.tolist(), holder_num.tolist(),
                                            strict=True)],
            S.HOLDER_NAME: name.astype(str),
            S.HOLDER_TYPE: np.where(pop.is_business, "business", "person"),
            S.OPENED_AT: opened,
            S.BIRTH_DATE: birth,
            S.AGE: age,
            S.COUNTRY: np.full(n, C.HOME_COUNTRY),
            S.CITY: city.astype(str),
            S.ADDRESS: address.astype(str),
            S.PHONE: phone.astype(str),
            S.EMAIL: email.astype(str),
            S.DEVICE_ID: device.astype(str),
            S.IP: ip.astype(str),
            S.BUSINESS_CATEGORY: pl.Series(category.tolist(), dtype=pl.String),
            S.BANK: np.full(n, C.OUR_BANK),
        }
    )
    is_bus = pl.Series(pop.is_business)
    frame = frame.with_columns(
        pl.when(is_bus).then(None).otherwise(pl.col(S.BIRTH_DATE)).alias(S.BIRTH_DATE),
        pl.when(is_bus).then(None).otherwise(pl.col(S.AGE)).alias(S.AGE),
    )
    return frame.select(
        [pl.col(c).cast(t) for c, t in S.ACCOUNT_SCHEMA.items()]
    ).sort(S.ACCOUNT_ID)
