//! Supplier queries. Lists of e-mails and divisions are JSON columns (`jsonb` on PostgreSQL,
//! TEXT on SQLite).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::domain::{NewSupplier, Supplier};
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
    siret: String,
    contact_emails: DbJson<Vec<String>>,
    cpv_divisions: DbJson<Vec<String>>,
    created_at: DbTime,
}

impl From<SupplierRow> for Supplier {
    fn from(r: SupplierRow) -> Self {
        Supplier {
            id: r.id,
            legal_name: r.legal_name,
            siret: r.siret,
            contact_emails: r.contact_emails.0,
            cpv_divisions: r.cpv_divisions.0,
            created_at: r.created_at.get(),
        }
    }
}

/// Inserts a supplier; 409 `supplier_siret_taken` if the SIRET is registered already
/// (decided by the unique index).
pub fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    s: &NewSupplier,
    now: DateTime<Utc>,
) -> Result<Supplier, ApiError> {
    let row = SupplierRow {
        id: SupplierId::new(),
        legal_name: s.legal_name.clone(),
        siret: s.siret.clone(),
        contact_emails: DbJson(s.contact_emails.clone()),
        cpv_divisions: DbJson(s.cpv_divisions.clone()),
        created_at: DbTime::new(now),
    };
    diesel::insert_into(suppliers::table)
        .values(&row)
        .execute(conn)
        .on_unique("suppliers_siret_key", || {
            ApiError::conflict(
                "supplier_siret_taken",
                format!("a supplier with SIRET {} already exists", s.siret),
            )
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
