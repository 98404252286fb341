//! Table definitions, written by hand with the backend-neutral column types of
//! [`crate::db::types::sql`]. Keep in step with `migrations/{postgres,sqlite}`.
//!
//! Status, kind, unit and role columns are `Text` and hold the spelling of a
//! [`Spelled`](crate::spelled::Spelled) enum: queries compare them with enum values, never with
//! string literals (`tests/conventions.rs` checks this).

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    members (id) {
        id -> Uid,
        code -> Text,
        legal_name -> Text,
        siret -> Text,
        dwellings -> BigInt,
        contact_email -> Text,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    suppliers (id) {
        id -> Uid,
        legal_name -> Text,
        identifier -> Text,
        contact_emails -> JsonDoc,
        cpv_divisions -> JsonDoc,
        created_at -> Ts,
        identifier_type -> Text,
        country -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    groups (id) {
        id -> Uid,
        name -> Text,
        coordinator_id -> Uid,
        cost_sharing_key -> Text,
        coordinator_fee_percent -> Dec,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    group_members (group_id, member_id) {
        group_id -> Uid,
        member_id -> Uid,
        convention_signed_at -> Nullable<Ts>,
        budget_ceiling -> Nullable<Dec>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    api_tokens (id) {
        id -> Uid,
        name -> Text,
        role -> Text,
        member_id -> Nullable<Uid>,
        supplier_id -> Nullable<Uid>,
        token_hash -> Text,
        created_at -> Ts,
        expires_at -> Nullable<Ts>,
        revoked_at -> Nullable<Ts>,
        last_used_at -> Nullable<Ts>,
    }
}

diesel::joinable!(groups -> members (coordinator_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> members (member_id));

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    campaigns (id) {
        id -> Uid,
        group_id -> Uid,
        title -> Text,
        cpv_scope -> JsonDoc,
        needs_deadline -> Ts,
        status -> Text,
        closed_at -> Nullable<Ts>,
        created_at -> Ts,
        contract_months -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    needs (id) {
        id -> Uid,
        campaign_id -> Uid,
        member_id -> Uid,
        title -> Text,
        description -> Text,
        cpv -> Text,
        quantity -> Dec,
        unit -> Text,
        estimated_unit_price -> Dec,
        vat_rate -> Dec,
        delivery_site -> Text,
        wanted_by -> Date,
        status -> Text,
        rejection_reason -> Nullable<Text>,
        submitted_at -> Nullable<Ts>,
        created_at -> Ts,
        updated_at -> Ts,
    }
}

diesel::joinable!(campaigns -> groups (group_id));
diesel::joinable!(needs -> campaigns (campaign_id));
diesel::joinable!(needs -> members (member_id));

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    outbox (id) {
        id -> Uid,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        dedup_key -> Nullable<Text>,
        status -> Text,
        attempts -> BigInt,
        last_error -> Nullable<Text>,
        next_attempt_at -> Ts,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Ts>,
        created_at -> Ts,
        sent_at -> Nullable<Ts>,
        sealed_until -> Nullable<Ts>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    idempotency_records (id) {
        id -> Uid,
        scope -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        state -> Text,
        response_status -> Nullable<BigInt>,
        response_content_type -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    audit_events (id) {
        id -> Uid,
        seq -> Nullable<BigInt>,
        recorded_at -> Ts,
        actor -> Text,
        actor_token_id -> Nullable<Uid>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Uid,
        group_id -> Nullable<Uid>,
        data -> Text,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    audit_chain (id) {
        id -> Integer,
        last_seq -> BigInt,
        last_hash -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tenders (id) {
        id -> Uid,
        group_id -> Uid,
        campaign_id -> Uid,
        reference -> Text,
        title -> Text,
        procedure -> Text,
        bid_deadline -> Ts,
        contract_months -> Integer,
        price_method -> Text,
        criteria -> JsonDoc,
        listed_suppliers -> JsonDoc,
        status -> Text,
        cancel_reason -> Nullable<Text>,
        published_at -> Nullable<Ts>,
        cancelled_at -> Nullable<Ts>,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tender_lots (id) {
        id -> Uid,
        tender_id -> Uid,
        number -> Integer,
        title -> Text,
        status -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tender_items (id) {
        id -> Uid,
        lot_id -> Uid,
        position -> Integer,
        cpv -> Text,
        unit -> Text,
        vat_rate -> Dec,
        quantity -> Dec,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tender_item_parts (item_id, member_id) {
        item_id -> Uid,
        member_id -> Uid,
        quantity -> Dec,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tender_needs (need_id) {
        need_id -> Uid,
        item_id -> Uid,
        member_id -> Uid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    tender_invitations (tender_id, supplier_id) {
        tender_id -> Uid,
        supplier_id -> Uid,
        invited_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    bids (id) {
        id -> Uid,
        tender_id -> Uid,
        lot_id -> Uid,
        supplier_id -> Uid,
        version -> Integer,
        status -> Text,
        technical_offer -> Text,
        total -> Dec,
        received_at -> Ts,
        sha256 -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    bid_prices (bid_id, item_id) {
        bid_id -> Uid,
        item_id -> Uid,
        unit_price -> Dec,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    bid_evaluations (bid_id) {
        bid_id -> Uid,
        lot_id -> Uid,
        scores -> JsonDoc,
        admissibility -> Text,
        reason -> Nullable<Text>,
        justification_requested_at -> Nullable<Ts>,
        justification_outcome -> Nullable<Text>,
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    awards (id) {
        id -> Uid,
        lot_id -> Uid,
        bid_id -> Uid,
        supplier_id -> Uid,
        rank -> Integer,
        reason -> Nullable<Text>,
        notification -> Text,
        standstill_days -> Integer,
        certificates_due -> Date,
        status -> Text,
        awarded_at -> Ts,
        withdrawn_at -> Nullable<Ts>,
        withdraw_reason -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    contracts (id) {
        id -> Uid,
        tender_id -> Uid,
        lot_id -> Uid,
        award_id -> Uid,
        group_id -> Uid,
        supplier_id -> Uid,
        total_ht -> Dec,
        contract_months -> Integer,
        items -> JsonDoc,
        created_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    contract_parts (contract_id, member_id) {
        contract_id -> Uid,
        member_id -> Uid,
        total_ht -> Dec,
        total_vat -> Dec,
        total_ttc -> Dec,
        detail -> JsonDoc,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::sql::*;

    shared_costs (id) {
        id -> Uid,
        group_id -> Uid,
        label -> Text,
        amount -> Dec,
        key -> Text,
        shares -> JsonDoc,
        created_at -> Ts,
    }
}

diesel::joinable!(bid_prices -> bids (bid_id));
diesel::joinable!(contract_parts -> contracts (contract_id));
diesel::joinable!(tender_lots -> tenders (tender_id));
diesel::joinable!(tender_items -> tender_lots (lot_id));
diesel::joinable!(tender_item_parts -> tender_items (item_id));
diesel::joinable!(tender_needs -> tender_items (item_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    audit_chain,
    members,
    suppliers,
    groups,
    group_members,
    api_tokens,
    campaigns,
    needs,
    outbox,
    idempotency_records,
    tenders,
    tender_lots,
    tender_items,
    tender_item_parts,
    tender_needs,
    tender_invitations,
    bids,
    bid_prices,
    bid_evaluations,
    awards,
    contracts,
    contract_parts,
    shared_costs
);
