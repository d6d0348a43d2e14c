//! Typed identifiers (UUID newtypes), so a user id is never passed where an org id belongs.

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::NewType))]
        #[cfg_attr(feature = "ts", derive(tsify::Tsify))]
        pub struct $name(#[cfg_attr(feature = "ts", tsify(type = "string"))] pub uuid::Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(u: uuid::Uuid) -> Self {
                Self(u)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user account.
    UserId
);
uuid_id!(
    /// Identifies an organization.
    OrgId
);
uuid_id!(
    /// Identifies a catalog item (the internal id; items also have a public `content_id` key).
    ContentUuid
);
uuid_id!(
    /// Identifies a progress row.
    ProgressId
);
uuid_id!(
    /// Identifies an invitation to join an organization.
    InvitationId
);
uuid_id!(
    /// Identifies a login session, i.e. one refresh-token family.
    SessionId
);
uuid_id!(
    /// Identifies an audit event.
    AuditId
);
