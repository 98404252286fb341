//! Supplier queries. Lists of e-mails and divisions are stored as JSON text on both backends.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::domain::{NewSupplier, Supplier};
use crate::db::types::{DbTime, DbUuid};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::extract::Page;
use crate::schema::suppliers;

type Row = (DbUuid, String, String, String, String, DbTime);

fn to_supplier(
    (id, legal_name, siret, emails, divisions, created_at): Row,
) -> Result<Supplier, ApiError> {
    Ok(Supplier {
        id: id.0,
        legal_name,
        siret,
        contact_emails: serde_json::from_str(&emails).map_err(ApiError::internal)?,
        cpv_divisions: serde_json::from_str(&divisions).map_err(ApiError::internal)?,
        created_at: created_at.get(),
    })
}

/// Inserts a supplier; 409 `supplier_siret_taken` if the SIRET is registered already.
pub fn insert(
    conn: &mut DbConn,
    s: &NewSupplier,
    now: DateTime<Utc>,
) -> Result<Supplier, ApiError> {
    let taken = suppliers::table
        .filter(suppliers::siret.eq(&s.siret))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if taken {
        return Err(ApiError::conflict(
            "supplier_siret_taken",
            format!("a supplier with SIRET {} already exists", s.siret),
        ));
    }
    let id = Uuid::now_v7();
    let emails = serde_json::to_string(&s.contact_emails).map_err(ApiError::internal)?;
    let divisions = serde_json::to_string(&s.cpv_divisions).map_err(ApiError::internal)?;
    diesel::insert_into(suppliers::table)
        .values((
            suppliers::id.eq(DbUuid(id)),
            suppliers::legal_name.eq(&s.legal_name),
            suppliers::siret.eq(&s.siret),
            suppliers::contact_emails.eq(&emails),
            suppliers::cpv_divisions.eq(&divisions),
            suppliers::created_at.eq(DbTime::new(now)),
        ))
        .execute(conn)?;
    to_supplier((
        DbUuid(id),
        s.legal_name.clone(),
        s.siret.clone(),
        emails,
        divisions,
        DbTime::new(now),
    ))
}

/// One page of suppliers in creation order (admin and leads: checked by the handler).
pub fn list(conn: &mut DbConn, page: Page) -> Result<Vec<Supplier>, ApiError> {
    let mut q = suppliers::table
        .select((
            suppliers::id,
            suppliers::legal_name,
            suppliers::siret,
            suppliers::contact_emails,
            suppliers::cpv_divisions,
            suppliers::created_at,
        ))
        .order(suppliers::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(suppliers::id.gt(DbUuid(after)));
    }
    q.load::<Row>(conn)?.into_iter().map(to_supplier).collect()
}
