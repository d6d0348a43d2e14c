//! Invitations: how a user comes to be a member of an organization without a platform
//! administrator. An organization's admin invites; only the invited user can accept (the
//! membership exists from then on) or decline; the admins can revoke a pending one. Until
//! it is accepted the organization has no standing over the user: its admins and mentors
//! see nothing of them.

use crate::ids::{InvitationId, OrgId, UserId};
use crate::organization::OrgRole;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long an invitation stays open.
pub const INVITATION_TTL_DAYS: i64 = 14;

string_enum!(
    /// Where an invitation stands.
    InvitationStatus {
        /// Waiting for the invited user.
        Pending => "pending",
        /// The user accepted: they are a member.
        Accepted => "accepted",
        /// The user declined.
        Declined => "declined",
        /// An organization admin withdrew it.
        Revoked => "revoked",
        /// Nobody answered before `expires_at`.
        Expired => "expired",
    }
);

/// An invitation to join an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct Invitation {
    /// Id.
    pub id: InvitationId,
    /// The organization's slug.
    pub organization: String,
    /// The organization's id.
    pub organization_id: OrgId,
    /// The organization's name (what the invited user is asked to join).
    pub organization_name: String,
    /// The invited user.
    pub user_id: UserId,
    /// The role they get on accepting.
    pub role: OrgRole,
    /// Who invited them (`None` once that account is gone).
    pub invited_by: Option<UserId>,
    /// Where it stands (`expired` is computed: a pending invitation past `expires_at`).
    pub status: InvitationStatus,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it stops being answerable.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted, declined or revoked.
    pub decided_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// A new pending invitation, open for [`INVITATION_TTL_DAYS`] from `now`; `org` is the
    /// organization's id, slug and name.
    pub fn new(
        id: InvitationId,
        org: (OrgId, &str, &str),
        user_id: UserId,
        role: OrgRole,
        invited_by: UserId,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            organization_id: org.0,
            organization: org.1.to_owned(),
            organization_name: org.2.to_owned(),
            user_id,
            role,
            invited_by: Some(invited_by),
            status: InvitationStatus::Pending,
            created_at: now,
            expires_at: now + chrono::Duration::days(INVITATION_TTL_DAYS),
            decided_at: None,
        }
    }

    /// Whether it can still be answered at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status == InvitationStatus::Pending && now < self.expires_at
    }

    /// The invitation as seen at `now`: a pending one past its expiry reads `expired`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        if self.status == InvitationStatus::Pending && now >= self.expires_at {
            self.status = InvitationStatus::Expired;
        }
        self
    }
}

/// Filters for listing invitations (at least one of `org` and `user` is set by callers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationFilter {
    /// Only this organization's.
    pub org: Option<OrgId>,
    /// Only this user's.
    pub user: Option<UserId>,
    /// Only those still open at this instant (pending and not expired).
    pub open_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_off_the_clock() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let inv = Invitation::new(
            InvitationId(uuid::Uuid::nil()),
            (OrgId(uuid::Uuid::nil()), "acme", "Acme"),
            UserId(uuid::Uuid::nil()),
            OrgRole::Member,
            UserId(uuid::Uuid::nil()),
            now,
        );
        assert!(inv.is_open(now));
        assert_eq!(inv.clone().at(now).status, InvitationStatus::Pending);
        let later = now + chrono::Duration::days(INVITATION_TTL_DAYS);
        assert!(!inv.is_open(later));
        assert_eq!(inv.at(later).status, InvitationStatus::Expired);
    }
}
