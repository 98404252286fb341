//! Roles, principals and token material. Pure: no I/O.

use crate::ids::{MemberId, SupplierId};
use sha2::{Digest, Sha256};

crate::stored_enum! {
    /// What a token may do.
    pub enum Role {
        /// Sets up groups, members, suppliers and tokens.
        Admin,
        /// Procurement lead of a member: leads the groups that member coordinates.
        Lead,
        /// Purchasing officer of one member.
        Officer,
        /// A supplier's own token.
        Supplier,
    }
}

/// Who is calling, with the organisation the token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// An administrator (bound to nothing).
    Admin,
    /// The lead of a member office.
    Lead {
        /// The member whose coordinated groups the lead runs.
        member_id: MemberId,
    },
    /// An officer of a member office.
    Officer {
        /// The officer's member.
        member_id: MemberId,
    },
    /// A supplier.
    Supplier {
        /// The supplier.
        supplier_id: SupplierId,
    },
}

impl Principal {
    /// Builds the principal from a stored token row; `None` if the row is inconsistent.
    pub fn from_parts(
        role: Role,
        member_id: Option<MemberId>,
        supplier_id: Option<SupplierId>,
    ) -> Option<Self> {
        match (role, member_id, supplier_id) {
            (Role::Admin, None, None) => Some(Principal::Admin),
            (Role::Lead, Some(member_id), None) => Some(Principal::Lead { member_id }),
            (Role::Officer, Some(member_id), None) => Some(Principal::Officer { member_id }),
            (Role::Supplier, None, Some(supplier_id)) => Some(Principal::Supplier { supplier_id }),
            _ => None,
        }
    }

    /// The role of this principal.
    pub fn role(self) -> Role {
        match self {
            Principal::Admin => Role::Admin,
            Principal::Lead { .. } => Role::Lead,
            Principal::Officer { .. } => Role::Officer,
            Principal::Supplier { .. } => Role::Supplier,
        }
    }
}

/// Prefix of every token, so a leaked one is easy to recognise in logs and scanners.
pub const TOKEN_PREFIX: &str = "tp_";

/// A new random token (256 bits, URL-safe) and its hash.
pub fn new_token() -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token, hex encoded: the only form stored. A fast hash is right here: the
/// token is 256 random bits, so there is nothing to brute-force.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(ha, hash_token(&a));
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 64);
    }

    #[test]
    fn principal_requires_the_right_binding() {
        let m = Some(MemberId::new());
        assert_eq!(
            Principal::from_parts(Role::Admin, None, None),
            Some(Principal::Admin)
        );
        assert_eq!(
            Principal::from_parts(Role::Lead, m, None).map(Principal::role),
            Some(Role::Lead)
        );
        assert_eq!(Principal::from_parts(Role::Lead, None, None), None);
        assert_eq!(Principal::from_parts(Role::Admin, m, None), None);
        assert_eq!(Principal::from_parts(Role::Supplier, m, None), None);
    }
}
