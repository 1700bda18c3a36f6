"""Shared-identifier clusters: accounts of different holders with one phone,
e-mail, address, device or IP.

Traffickers open and run accounts in their victims' names, so the victims'
accounts share the controller's contact details and devices (FIN-2020-A008
typology 3; FINTRAC 2021). A cluster is a connected group of accounts linked by
such shared values; money flowing inside it says who is who: the member that
the others pay is the controller hypothesis, the payers the victims.
"""

from __future__ import annotations

import networkx as nx
import polars as pl

from moneytrail import schema as S
from moneytrail.graph._common import MEMBER_SCORES, MEMBERS, ROLES

_KIND = "kind"
_VALUE = "value"
_HOLDER = "_holder"
_CLUSTER = "_cluster"
# Identifiers that belong to one person; address, IP and device are shared by households.
_PERSONAL = (S.PHONE, S.EMAIL)
# ... though a family tablet rarely serves three holders: as many accounts reached
# from one device is the nominee flag of FINTRAC 2021 / ML-NOMINEE-01.
_DEVICE_MIN_HOLDERS = 3
_PERSON = "_person"


def _normalised(column: str) -> pl.Expr:
    """Spelling differences must not hide a shared value (case, spaces, dashes)."""
    text = pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()
    if column == S.PHONE:
        text = text.str.replace_all(r"[^0-9+]", "")
    elif column == S.ADDRESS:
        text = text.str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def detect_shared_identifiers(
    accounts: pl.DataFrame,
    transactions: pl.LazyFrame,
    *,
    min_holders: int,
    max_accounts: int,
) -> tuple[pl.DataFrame, list[str]]:
    notices: list[str] = []
    present = [c for c in S.SHARED_IDENTIFIER_COLUMNS if c in accounts.columns]
    if S.ACCOUNT_ID not in accounts.columns or not present:
        notices.append(
            "patterns: shared_identifiers skipped: the accounts table has no "
            f"identifier columns ({', '.join(S.SHARED_IDENTIFIER_COLUMNS)})"
        )
        return pl.DataFrame(), notices
    holder = (
        pl.coalesce(pl.col(S.HOLDER_ID).cast(pl.String), pl.col(S.ACCOUNT_ID))
        if S.HOLDER_ID in accounts.columns
        else pl.col(S.ACCOUNT_ID)
    )
    # A business's phone or e-mail is often its owner's: that is not two people
    # sharing one.
    person = (
        pl.col(S.HOLDER_TYPE).cast(pl.String).str.to_lowercase().fill_null("") != "business"
        if S.HOLDER_TYPE in accounts.columns
        else pl.lit(True)
    )
    long = (
        accounts.lazy()
        .select(
            pl.col(S.ACCOUNT_ID).cast(pl.String),
            holder.alias(_HOLDER),
            person.alias(_PERSON),
            *[_normalised(c).alias(c) for c in present],
        )
        .unpivot(
            index=[S.ACCOUNT_ID, _HOLDER, _PERSON],
            on=present,
            variable_name=_KIND,
            value_name=_VALUE,
        )
        .drop_nulls(_VALUE)
    )
    # A value shared by very many accounts is a bank branch, a shelter, a
    # carrier NAT address: a fact about the place, not about a controller.
    groups = (
        long.group_by(_KIND, _VALUE)
        .agg(
            pl.col(S.ACCOUNT_ID).unique().sort().alias(MEMBERS),
            pl.col(_HOLDER).n_unique().alias("_holders"),
            pl.col(_HOLDER).filter(pl.col(_PERSON)).n_unique().alias("_persons"),
        )
        .filter((pl.col("_holders") >= 2) & (pl.col(MEMBERS).list.len() <= max_accounts))
        .with_columns(
            # people sharing a phone or an e-mail, or many sharing one device:
            # a link that needs no money to be worth telling
            (
                (pl.col(_KIND).is_in(list(_PERSONAL)) & (pl.col("_persons") >= 2))
                | ((pl.col(_KIND) == S.DEVICE_ID) & (pl.col("_holders") >= _DEVICE_MIN_HOLDERS))
            ).alias("_strong")
        )
        .sort(_KIND, _VALUE)
        .collect()
    )
    if groups.height == 0:
        return pl.DataFrame(), notices
    graph = nx.Graph()
    for members in groups.get_column(MEMBERS).to_list():
        nx.add_star(graph, members)
    comps = sorted(sorted(c) for c in nx.connected_components(graph))
    cluster_of = {a: i for i, comp in enumerate(comps) for a in comp}
    groups = groups.with_columns(
        pl.col(MEMBERS)
        .list.first()
        .replace_strict(cluster_of, return_dtype=pl.Int64)
        .alias(_CLUSTER)
    )
    member_frame = pl.DataFrame(
        {S.ACCOUNT_ID: list(cluster_of), _CLUSTER: list(cluster_of.values())},
        schema={S.ACCOUNT_ID: pl.String, _CLUSTER: pl.Int64},
    )
    holders = accounts.lazy().select(pl.col(S.ACCOUNT_ID).cast(pl.String), holder.alias(_HOLDER))
    # Money among the members of one cluster.
    names = transactions.collect_schema().names()
    txn_id = pl.col(S.TXN_ID) if S.TXN_ID in names else pl.lit(None, pl.String)
    inside = (
        transactions.select(
            txn_id.alias(S.TXN_ID), S.FROM_ACCOUNT, S.TO_ACCOUNT, S.AMOUNT, S.TIMESTAMP
        )
        .join(member_frame.lazy(), left_on=S.FROM_ACCOUNT, right_on=S.ACCOUNT_ID)
        .join(
            member_frame.lazy().rename({_CLUSTER: "_c2"}),
            left_on=S.TO_ACCOUNT,
            right_on=S.ACCOUNT_ID,
        )
        .filter(pl.col(_CLUSTER) == pl.col("_c2"))
        .collect()
    )
    received = inside.group_by(_CLUSTER, pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID)).agg(
        pl.col(S.AMOUNT).sum().alias("_recv"), pl.col(S.FROM_ACCOUNT).n_unique().alias("_payers")
    )
    sent = inside.group_by(_CLUSTER, pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID)).agg(
        pl.col(S.AMOUNT).sum().alias("_sent")
    )
    roles = (
        member_frame.join(received, on=[_CLUSTER, S.ACCOUNT_ID], how="left")
        .join(sent, on=[_CLUSTER, S.ACCOUNT_ID], how="left")
        .fill_null(0)
        .with_columns(
            (pl.col("_recv") - pl.col("_sent")).alias("_net"),
        )
        .with_columns(
            # A controller is a net receiver paid by at least two other members;
            # not only the cluster's largest one: a business paying its owner
            # (they share a phone) can move more than the victims' sweeps.
            pl.when((pl.col("_net") > 0) & (pl.col("_payers") >= 2))
            .then(pl.lit("controller"))
            .alias(S.EV_ROLE)
        )
    )
    controllers = roles.filter(pl.col(S.EV_ROLE) == "controller").select(S.ACCOUNT_ID)
    # The victims: members who pay a controller more than they get back from one.
    to_controller = inside.join(controllers, left_on=S.TO_ACCOUNT, right_on=S.ACCOUNT_ID).select(
        pl.col(S.FROM_ACCOUNT).alias(S.ACCOUNT_ID), S.AMOUNT
    )
    from_controller = inside.join(
        controllers, left_on=S.FROM_ACCOUNT, right_on=S.ACCOUNT_ID
    ).select(pl.col(S.TO_ACCOUNT).alias(S.ACCOUNT_ID), (-pl.col(S.AMOUNT)).alias(S.AMOUNT))
    swept = (
        pl.concat([to_controller, from_controller])
        .group_by(S.ACCOUNT_ID)
        .agg(pl.col(S.AMOUNT).sum().alias("_swept"))
    )
    has_controller = roles.group_by(_CLUSTER).agg(
        (pl.col(S.EV_ROLE) == "controller").any().fill_null(False).alias("_ctl")
    )
    roles = (
        roles.join(has_controller, on=_CLUSTER)
        .join(swept, on=S.ACCOUNT_ID, how="left")
        .with_columns(
            pl.when(pl.col(S.EV_ROLE).is_not_null())
            .then(pl.col(S.EV_ROLE))
            .when(pl.col("_swept") > 0)
            .then(pl.lit("victim"))
            .alias(S.EV_ROLE)
        )
        .join(holders.collect(), on=S.ACCOUNT_ID, how="left")
        .sort(_CLUSTER, S.ACCOUNT_ID)
    )
    strongly_linked = groups.filter("_strong").get_column(MEMBERS).explode().unique().implode()
    # A member that neither takes part in the money to a controller nor shares
    # a strong link is a housemate of one who does: not evidence about it.
    told = pl.col(S.EV_ROLE).is_not_null() | pl.col(S.ACCOUNT_ID).is_in(strongly_linked)
    per_cluster = roles.group_by(_CLUSTER).agg(
        pl.col(S.ACCOUNT_ID).filter(told).alias(MEMBERS),
        pl.col(S.EV_ROLE).filter(told).alias(ROLES),
        pl.col(_HOLDER).n_unique().alias("_n_holders"),
        pl.len().alias("_n_accounts"),
        pl.col("_ctl").first(),
        pl.col(S.ACCOUNT_ID)
        .filter(pl.col(S.EV_ROLE) == "controller")
        .head(3)
        .str.join(", ")
        .alias("_controllers"),
    )
    shared = groups.group_by(_CLUSTER).agg(
        pl.col(_KIND).n_unique().alias("_n_kinds"),
        (pl.col(_KIND).is_in(list(_PERSONAL)) & (pl.col("_persons") >= 2)).any().alias("_personal"),
        pl.format("{} {}", _KIND, _VALUE).head(3).str.join("; ").alias("_what"),
    )
    flows = inside.group_by(_CLUSTER).agg(
        pl.col(S.TXN_ID).sort().alias(S.EV_TXN_IDS),
        pl.col(S.TIMESTAMP).min().alias(S.EV_WINDOW_START),
        pl.col(S.TIMESTAMP).max().alias(S.EV_WINDOW_END),
        pl.col(S.AMOUNT).sum().alias("_flow"),
    )
    # A household shares an address, a home IP, even a tablet; different
    # people sharing a phone number or an e-mail is what control looks like.
    # Without such a personal identifier a cluster needs more holders.
    inst = (
        per_cluster.join(shared, on=_CLUSTER)
        .filter(pl.col("_personal") | (pl.col("_n_holders") >= min_holders))
        .filter(pl.col(MEMBERS).list.len() > 0)
        .join(flows, on=_CLUSTER, how="left")
        .with_columns(pl.col("_flow").fill_null(0.0))
        .sort(_CLUSTER)
    )
    shared_score = (
        0.25
        + 0.2 * (1 - 0.5 ** (pl.col("_n_holders") - 1))
        + 0.1 * ((pl.col("_n_kinds") - 1) / 2).clip(0, 1)
        + 0.1 * pl.col("_personal").cast(pl.Float64)
    )
    score = (
        shared_score
        + 0.15 * (pl.col("_flow") > 0).cast(pl.Float64)
        + 0.2 * pl.col("_ctl").cast(pl.Float64)
    )
    # The money says who takes part: a controller and those who pay it carry
    # the cluster's whole weight; a member told only by a strong link (a shared
    # phone, a device of many holders) carries only the sharing's.
    involved = (
        pl.col(ROLES)
        .list.eval(pl.element().is_in(["controller", "victim"]).fill_null(False))
        .cast(pl.List(pl.Float64))
    )
    member_scores = shared_score + involved * (score - shared_score)
    out = inst.select(
        MEMBERS,
        ROLES,
        score.alias(S.EV_SCORE),
        member_scores.alias(MEMBER_SCORES),
        S.EV_WINDOW_START,
        S.EV_WINDOW_END,
        pl.col(S.EV_TXN_IDS).fill_null([]),
        pl.format(
            "{} accounts of {} different holders share {} ({}){}{}",
            pl.col("_n_accounts"),
            pl.col("_n_holders"),
            pl.format("{} kind(s) of identifier", pl.col("_n_kinds")),
            pl.col("_what"),
            pl.when(pl.col("_flow") > 0)
            .then(pl.format("; {} moved between them", pl.col("_flow").round(2)))
            .otherwise(pl.lit("")),
            pl.when(pl.col("_ctl"))
            .then(pl.format("; {} paid by others of them", pl.col("_controllers")))
            .otherwise(pl.lit("")),
        ).alias(S.EV_REASON),
    )
    return out, notices
