//! Bid queries. **Sealed in this layer**: the only query that returns bids of several
//! suppliers, [`lot_bids`], refuses with 409 `bids_sealed` before the tender's deadline, for
//! every caller; every other query is filtered by the calling supplier's id in SQL. Nothing
//! here counts bids or lists bidders before the deadline, and the journal keeps a hash only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{Bid, BidStatus, CheckedBid, PriceLine, PutBid, Receipt, Sealed};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::auth::{Caller, SupplierUser};
use crate::clock::Clock;
use crate::db::types::{DbDecimal, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::decimal::UnitPrice;
use crate::error::ApiError;
use crate::ids::{BidId, SupplierId, TenderId, TenderItemId, TenderLotId};
use crate::schema::{bid_prices, bids};
use crate::tenders::domain::TenderStatus;
use crate::tenders::store::{hold, lot_for_bidding, BidLot, Hold};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bids)]
#[diesel(check_for_backend(MultiBackend))]
struct BidRow {
    id: BidId,
    tender_id: TenderId,
    lot_id: TenderLotId,
    supplier_id: SupplierId,
    version: i32,
    status: BidStatus,
    technical_offer: String,
    total: DbDecimal,
    received_at: DbTime,
    sha256: String,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = bid_prices)]
#[diesel(check_for_backend(MultiBackend))]
struct PriceRow {
    bid_id: BidId,
    item_id: TenderItemId,
    unit_price: DbDecimal,
}

fn receipt(r: &BidRow) -> Receipt {
    let at = r.received_at.get();
    Receipt {
        bid_id: r.id,
        version: u32::try_from(r.version).unwrap_or(0),
        status: r.status,
        received_at: at,
        received_at_local: crate::dates::paris_local(at),
        total: r.total.0.normalize().to_string(),
        sha256: r.sha256.clone(),
    }
}

fn views(conn: &mut DbConn, rows: Vec<BidRow>) -> Result<Vec<Bid>, ApiError> {
    let ids: Vec<BidId> = rows.iter().map(|r| r.id).collect();
    let prices: Vec<PriceRow> = bid_prices::table
        .filter(bid_prices::bid_id.eq_any(ids))
        .order((bid_prices::bid_id.asc(), bid_prices::item_id.asc()))
        .select(PriceRow::as_select())
        .load(conn)?;
    let mut by_bid: HashMap<BidId, Vec<PriceLine>> = HashMap::new();
    for p in prices {
        by_bid.entry(p.bid_id).or_default().push(PriceLine {
            item_id: p.item_id,
            unit_price: UnitPrice::from_stored(p.unit_price.0.normalize()),
        });
    }
    let suppliers: Vec<SupplierId> = rows.iter().map(|r| r.supplier_id).collect();
    let names: HashMap<SupplierId, String> = crate::suppliers::store::by_ids(conn, &suppliers)?
        .into_iter()
        .map(|s| (s.id, s.legal_name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| Bid {
            id: r.id,
            tender_id: r.tender_id,
            lot_id: r.lot_id,
            supplier_id: r.supplier_id,
            supplier_name: names.get(&r.supplier_id).cloned().unwrap_or_default(),
            version: u32::try_from(r.version).unwrap_or(0),
            status: r.status,
            prices: by_bid.remove(&r.id).unwrap_or_default(),
            technical_offer: r.technical_offer,
            total: r.total.0.normalize().to_string(),
            received_at: r.received_at.get(),
            sha256: r.sha256,
        })
        .collect())
}

/// Makes one supplier's changes on one lot take turns (PostgreSQL: a transaction-scoped
/// advisory lock on the pair; SQLite writers already do), so two revisions sent at once get
/// versions n and n+1, and a withdrawal sees the revision that committed before it.
fn one_at_a_time(conn: &mut DbConn, lot: TenderLotId, supplier: SupplierId) -> QueryResult<()> {
    crate::db::hold_object(conn, LOCK_CLASS, &[lot.0.as_bytes(), supplier.0.as_bytes()])
}

/// Advisory lock class of one supplier's bids on one lot ("BIDS").
const LOCK_CLASS: i32 = 0x4249_4453;

/// The caller's versions on a lot, newest first (its own only: the filter is in SQL).
fn own(conn: &mut DbConn, supplier: SupplierId, lot: TenderLotId) -> QueryResult<Vec<BidRow>> {
    bids::table
        .filter(bids::lot_id.eq(lot))
        .filter(bids::supplier_id.eq(supplier))
        .order(bids::version.desc())
        .select(BidRow::as_select())
        .load(conn)
}

/// Receives a bid version from an invited supplier. Holds the tender (shared) so the bids'
/// opening waits for it; the reception instant is read from `clock` after the checks, right
/// before the rows are written: at or after the deadline the version is `late` (kept, never
/// evaluated, earlier versions untouched); before it, it supersedes the current version. The
/// receipt is mailed to the supplier's addresses in the same transaction.
#[allow(clippy::too_many_arguments)]
pub fn put(
    conn: &mut DbConn,
    supplier: &SupplierUser,
    tender: TenderId,
    lot: TenderLotId,
    body: &PutBid,
    clock: &dyn Clock,
    domain: &str,
) -> Result<Receipt, ApiError> {
    hold(conn, tender, Hold::Shared)?;
    one_at_a_time(conn, lot, supplier.supplier)?;
    let ctx = lot_for_bidding(conn, &supplier.caller, tender, lot, clock.now())?;
    if !matches!(ctx.status, TenderStatus::Published | TenderStatus::Opened) {
        return Err(ApiError::conflict(
            "invalid_state",
            "this tender does not take bids",
        ));
    }
    let checked = body.check(&ctx.items)?;
    let previous = own(conn, supplier.supplier, lot)?;
    let version = previous.first().map_or(0, |b| b.version) + 1;
    let now = clock.now();
    let late = now >= ctx.deadline;
    if !late {
        diesel::update(
            bids::table
                .filter(bids::lot_id.eq(lot))
                .filter(bids::supplier_id.eq(supplier.supplier))
                .filter(bids::status.eq(BidStatus::Submitted)),
        )
        .set(bids::status.eq(BidStatus::Superseded))
        .execute(conn)?;
    }
    let row = insert(conn, &ctx, supplier.supplier, version, &checked, late, now)?;
    let receipt = receipt(&row);
    super::notices::enqueue_receipt(
        conn,
        &ctx,
        supplier.supplier,
        &receipt,
        row.total.0,
        domain,
        now,
    )?;
    audit::record(
        conn,
        &Actor::Bidder,
        Change {
            action: Action::BidReceived,
            entity_type: EntityType::Bid,
            entity_id: row.id.0,
            // No group: the lead must not learn that a bid exists before the deadline.
            group_id: None,
            data: &serde_json::json!({"sha256": receipt.sha256}),
        },
        now,
    )?;
    Ok(receipt)
}

fn insert(
    conn: &mut DbConn,
    ctx: &BidLot,
    supplier: SupplierId,
    version: i32,
    checked: &CheckedBid,
    late: bool,
    now: DateTime<Utc>,
) -> Result<BidRow, ApiError> {
    let now = DbTime::new(now);
    let sealed = Sealed {
        tender_id: ctx.tender_id,
        lot_id: ctx.lot_id,
        supplier_id: supplier,
        version: u32::try_from(version).unwrap_or(0),
        bid: checked,
        received_at: now.get(),
    };
    let row = BidRow {
        id: BidId::new(),
        tender_id: ctx.tender_id,
        lot_id: ctx.lot_id,
        supplier_id: supplier,
        version,
        status: if late {
            BidStatus::Late
        } else {
            BidStatus::Submitted
        },
        technical_offer: checked.technical_offer.clone(),
        total: DbDecimal(checked.total),
        received_at: now,
        sha256: sealed.sha256(),
    };
    diesel::insert_into(bids::table)
        .values(&row)
        .execute(conn)?;
    for (item, price) in &checked.prices {
        diesel::insert_into(bid_prices::table)
            .values(PriceRow {
                bid_id: row.id,
                item_id: *item,
                unit_price: DbDecimal(price.value()),
            })
            .execute(conn)?;
    }
    Ok(row)
}

/// The caller's latest version on the lot (any status), or 404.
pub fn get_own(
    conn: &mut DbConn,
    supplier: &SupplierUser,
    tender: TenderId,
    lot: TenderLotId,
    now: DateTime<Utc>,
) -> Result<Bid, ApiError> {
    lot_for_bidding(conn, &supplier.caller, tender, lot, now)?;
    let latest = own(conn, supplier.supplier, lot)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("bid"))?;
    views(conn, vec![latest])?
        .pop()
        .ok_or_else(|| ApiError::not_found("bid"))
}

/// Withdraws the caller's current version before the deadline (409 `deadline_passed` after
/// it; 404 when there is none).
pub fn withdraw(
    conn: &mut DbConn,
    supplier: &SupplierUser,
    tender: TenderId,
    lot: TenderLotId,
    clock: &dyn Clock,
) -> Result<(), ApiError> {
    hold(conn, tender, Hold::Shared)?;
    one_at_a_time(conn, lot, supplier.supplier)?;
    let now = clock.now();
    let ctx = lot_for_bidding(conn, &supplier.caller, tender, lot, now)?;
    if now >= ctx.deadline {
        return Err(ApiError::conflict(
            "deadline_passed",
            "the bid deadline has passed: a bid can no longer be withdrawn",
        ));
    }
    let current: Option<BidId> = bids::table
        .filter(bids::lot_id.eq(lot))
        .filter(bids::supplier_id.eq(supplier.supplier))
        .filter(bids::status.eq(BidStatus::Submitted))
        .select(bids::id)
        .first(conn)
        .optional()?;
    let id = current.ok_or_else(|| ApiError::not_found("bid"))?;
    let changed = diesel::update(
        bids::table
            .filter(bids::id.eq(id))
            .filter(bids::status.eq(BidStatus::Submitted)),
    )
    .set(bids::status.eq(BidStatus::Withdrawn))
    .execute(conn)?;
    if changed != 1 {
        return Err(ApiError::not_found("bid"));
    }
    audit::record(
        conn,
        &Actor::Bidder,
        Change {
            action: Action::BidWithdrawn,
            entity_type: EntityType::Bid,
            entity_id: id.0,
            group_id: None,
            data: &serde_json::json!({}),
        },
        now,
    )?;
    Ok(())
}

/// 409 `bids_sealed`: the answer to any read of several suppliers' bids before `deadline`.
pub fn sealed_until(deadline: DateTime<Utc>) -> ApiError {
    ApiError::conflict(
        "bids_sealed",
        format!(
            "bids stay sealed until the deadline, {}",
            crate::dates::paris_local(deadline)
        ),
    )
}

/// Every current bid of a lot (submitted, and late ones flagged), for the lead of the group
/// (or an admin), **only at or after the deadline**: before it, 409 `bids_sealed` at once,
/// without waiting for anything. From the deadline it holds the tender exclusively, so bids
/// still being received commit (or fail) first.
pub fn lot_bids(
    conn: &mut DbConn,
    caller: &Caller,
    tender: TenderId,
    lot: TenderLotId,
    clock: &dyn Clock,
) -> Result<Vec<Bid>, ApiError> {
    let ctx = lot_for_bidding(conn, caller, tender, lot, clock.now())?;
    if clock.now() < ctx.deadline {
        return Err(sealed_until(ctx.deadline));
    }
    hold(conn, tender, Hold::Exclusive)?;
    // A deadline never moves: once the lock is held, only the clock is read again.
    if clock.now() < ctx.deadline {
        return Err(sealed_until(ctx.deadline));
    }
    let rows: Vec<BidRow> = bids::table
        .filter(bids::lot_id.eq(lot))
        .filter(bids::status.eq_any([BidStatus::Submitted, BidStatus::Late]))
        .order((bids::received_at.asc(), bids::id.asc()))
        .select(BidRow::as_select())
        .load(conn)?;
    views(conn, rows)
}

/// A current bid of an opened lot, as evaluation reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedBid {
    /// Bid version.
    pub id: BidId,
    /// Bidder.
    pub supplier_id: SupplierId,
    /// Bidder's legal name.
    pub supplier_name: String,
    /// Exact total HT.
    pub total: rust_decimal::Decimal,
    /// Reception instant.
    pub received_at: DateTime<Utc>,
    /// Received after the deadline.
    pub late: bool,
}

/// The current bids (submitted, and late ones) of lot `ctx`, in order of receipt — only at
/// or after the tender's deadline (409 `bids_sealed` before). The caller reached `ctx`
/// through its own scope and holds the tender.
pub fn opened_bids(
    conn: &mut DbConn,
    ctx: &BidLot,
    now: DateTime<Utc>,
) -> Result<Vec<OpenedBid>, ApiError> {
    if now < ctx.deadline {
        return Err(sealed_until(ctx.deadline));
    }
    let rows: Vec<BidRow> = bids::table
        .filter(bids::lot_id.eq(ctx.lot_id))
        .filter(bids::status.eq_any([BidStatus::Submitted, BidStatus::Late]))
        .order((bids::received_at.asc(), bids::id.asc()))
        .select(BidRow::as_select())
        .load(conn)?;
    let suppliers: Vec<SupplierId> = rows.iter().map(|r| r.supplier_id).collect();
    let names: HashMap<SupplierId, String> = crate::suppliers::store::by_ids(conn, &suppliers)?
        .into_iter()
        .map(|s| (s.id, s.legal_name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| OpenedBid {
            id: r.id,
            supplier_id: r.supplier_id,
            supplier_name: names.get(&r.supplier_id).cloned().unwrap_or_default(),
            total: r.total.0,
            received_at: r.received_at.get(),
            late: r.status == BidStatus::Late,
        })
        .collect())
}

/// The tender and lot of bid `id` when `caller` reaches its tender **and its deadline has
/// passed**; 404 otherwise — before the deadline a bid id is not confirmed to exist.
pub fn locate_opened(
    conn: &mut DbConn,
    caller: &Caller,
    id: BidId,
    now: DateTime<Utc>,
) -> Result<(BidLot, BidStatus), ApiError> {
    let found: Option<(TenderId, TenderLotId, BidStatus)> = bids::table
        .filter(bids::id.eq(id))
        .select((bids::tender_id, bids::lot_id, bids::status))
        .first(conn)
        .optional()?;
    let (tender, lot, status) = found.ok_or_else(|| ApiError::not_found("bid"))?;
    let ctx = lot_for_bidding(conn, caller, tender, lot, now).map_err(|e| {
        if e.status == actix_web::http::StatusCode::NOT_FOUND {
            ApiError::not_found("bid")
        } else {
            e
        }
    })?;
    if now < ctx.deadline {
        return Err(ApiError::not_found("bid"));
    }
    Ok((ctx, status))
}

/// The unit prices of bid `id` by item (for its contract).
pub fn prices_of(
    conn: &mut DbConn,
    id: BidId,
) -> QueryResult<HashMap<TenderItemId, rust_decimal::Decimal>> {
    let rows: Vec<PriceRow> = bid_prices::table
        .filter(bid_prices::bid_id.eq(id))
        .select(PriceRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|p| (p.item_id, p.unit_price.0))
        .collect())
}

/// Every current bid of tender `tender` (submitted and late) with its lot — only from the
/// deadline (`None` before: nothing sealed leaves). For exports; the caller scoped the tender.
pub fn tender_bids(
    conn: &mut DbConn,
    tender: TenderId,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<Option<Vec<(TenderLotId, OpenedBid)>>> {
    if now < deadline {
        return Ok(None);
    }
    let rows: Vec<BidRow> = bids::table
        .filter(bids::tender_id.eq(tender))
        .filter(bids::status.eq_any([BidStatus::Submitted, BidStatus::Late]))
        .order((bids::received_at.asc(), bids::id.asc()))
        .select(BidRow::as_select())
        .load(conn)?;
    Ok(Some(
        rows.into_iter()
            .map(|r| {
                (
                    r.lot_id,
                    OpenedBid {
                        id: r.id,
                        supplier_id: r.supplier_id,
                        supplier_name: String::new(),
                        total: r.total.0,
                        received_at: r.received_at.get(),
                        late: r.status == BidStatus::Late,
                    },
                )
            })
            .collect(),
    ))
}
