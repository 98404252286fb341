//! Supplier queries. Lists of e-mails and divisions are JSON columns (`jsonb` on PostgreSQL,
//! TEXT on SQLite).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{NewSupplier, Supplier};
use super::identifier::{Identifier, IdentifierType};
use crate::audit::{self, Action, Actor, Change, EntityType};
use crate::db::types::{DbJson, DbTime};
use crate::db::{DbConn, MultiBackend};
use crate::error::{ApiError, OnUnique};
use crate::ids::SupplierId;
use crate::pagination::{keyset, Page};
use crate::schema::suppliers;

/// A stored supplier (every column is written at creation, so it is also the insert value).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = suppliers)]
#[diesel(check_for_backend(MultiBackend))]
struct SupplierRow {
    id: SupplierId,
    legal_name: String,
    identifier: String,
    identifier_type: IdentifierType,
    country: String,
    contact_emails: DbJson<Vec<String>>,
    cpv_divisions: DbJson<Vec<String>>,
    created_at: DbTime,
}

impl From<SupplierRow> for Supplier {
    fn from(r: SupplierRow) -> Self {
        Supplier {
            id: r.id,
            legal_name: r.legal_name,
            siret: (r.identifier_type == IdentifierType::Siret).then(|| r.identifier.clone()),
            identifier: Identifier {
                kind: r.identifier_type,
                value: r.identifier,
                country: r.country,
            },
            contact_emails: r.contact_emails.0,
            cpv_divisions: r.cpv_divisions.0,
            created_at: r.created_at.get(),
        }
    }
}

/// Inserts a supplier; 409 `supplier_siret_taken` if the SIRET is registered already,
/// `supplier_identifier_taken` for another identifier (decided by the unique index).
pub fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    s: &NewSupplier,
    now: DateTime<Utc>,
) -> Result<Supplier, ApiError> {
    let row = SupplierRow {
        id: SupplierId::new(),
        legal_name: s.legal_name.clone(),
        identifier: s.identifier.value.clone(),
        identifier_type: s.identifier.kind,
        country: s.identifier.country.clone(),
        contact_emails: DbJson(s.contact_emails.clone()),
        cpv_divisions: DbJson(s.cpv_divisions.clone()),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(suppliers::table)
        .values(&row)
        .execute(conn)
        .on_unique("suppliers_identifier_key", || {
            let id = &s.identifier;
            if id.kind == IdentifierType::Siret {
                ApiError::conflict(
                    "supplier_siret_taken",
                    format!("a supplier with SIRET {} already exists", id.value),
                )
            } else {
                ApiError::conflict(
                    "supplier_identifier_taken",
                    format!("a supplier with identifier {} already exists", id.value),
                )
            }
        })?;
    let supplier = Supplier::from(row);
    audit::record(
        conn,
        actor,
        Change {
            action: Action::SupplierCreated,
            entity_type: EntityType::Supplier,
            entity_id: supplier.id.0,
            group_id: None,
            data: &supplier,
        },
        now,
    )?;
    Ok(supplier)
}

/// One page of suppliers in creation order (admin and leads: the handler's extractor).
pub fn list(conn: &mut DbConn, page: Page) -> Result<Vec<Supplier>, ApiError> {
    let q = suppliers::table
        .select(SupplierRow::as_select())
        .into_boxed();
    let rows: Vec<SupplierRow> = keyset(q, suppliers::id, page).load(conn)?;
    Ok(rows.into_iter().map(Supplier::from).collect())
}

/// True when a supplier with this id exists.
pub fn exists(conn: &mut DbConn, id: SupplierId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        suppliers::table.filter(suppliers::id.eq(id)),
    ))
    .get_result(conn)
}

/// Of `ids`, those that name a supplier.
pub fn existing(conn: &mut DbConn, ids: &[SupplierId]) -> QueryResult<Vec<SupplierId>> {
    suppliers::table
        .filter(suppliers::id.eq_any(ids.to_vec()))
        .select(suppliers::id)
        .load(conn)
}

/// A supplier to invite to a tender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    /// Id.
    pub id: SupplierId,
    /// Legal name.
    pub legal_name: String,
    /// Where the invitation goes (one mail per address).
    pub contact_emails: Vec<String>,
}

/// The suppliers `ids`, for their notices.
pub fn by_ids(conn: &mut DbConn, ids: &[SupplierId]) -> QueryResult<Vec<Invitee>> {
    let rows: Vec<SupplierRow> = suppliers::table
        .filter(suppliers::id.eq_any(ids.to_vec()))
        .order(suppliers::id.asc())
        .select(SupplierRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Invitee::from).collect())
}

impl From<SupplierRow> for Invitee {
    fn from(r: SupplierRow) -> Self {
        let mut seen = std::collections::BTreeSet::new();
        Invitee {
            id: r.id,
            legal_name: r.legal_name,
            // One mail per address, however it was written.
            contact_emails: r
                .contact_emails
                .0
                .into_iter()
                .filter(|e| seen.insert(e.to_lowercase()))
                .collect(),
        }
    }
}

/// The suppliers listed in `listed` and those working in one of `divisions` (two-digit CPV
/// divisions), each once, by id. Divisions are JSON lists: matched here, not in SQL.
pub fn invitees(
    conn: &mut DbConn,
    listed: &[SupplierId],
    divisions: &[String],
) -> QueryResult<Vec<Invitee>> {
    let rows: Vec<SupplierRow> = suppliers::table
        .select(SupplierRow::as_select())
        .order(suppliers::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            listed.contains(&r.id) || r.cpv_divisions.0.iter().any(|d| divisions.contains(d))
        })
        .map(Invitee::from)
        .collect())
}

/// The suppliers `ids` with their identifiers (for exports).
pub fn full_by_ids(conn: &mut DbConn, ids: &[SupplierId]) -> QueryResult<Vec<Supplier>> {
    let rows: Vec<SupplierRow> = suppliers::table
        .filter(suppliers::id.eq_any(ids.to_vec()))
        .select(SupplierRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Supplier::from).collect())
}
