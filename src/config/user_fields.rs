//! The user attributes that settings name: the profile fields of `djoser.required_fields` and the
//! claims of `simple_jwt.extra_claims`. Parsed by serde when the configuration loads (an unknown name
//! is a start-up error naming the setting), so the code that reads them matches every case.

use serde::{Deserialize, Serialize};

/// A profile field of the user model (Djoser's `REQUIRED_FIELDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileField {
    Username,
    FirstName,
    LastName,
}

impl ProfileField {
    /// Every field.
    pub const ALL: [ProfileField; 3] = [ProfileField::Username, ProfileField::FirstName, ProfileField::LastName];

    /// The field's name in requests and answers.
    pub fn name(self) -> &'static str {
        match self {
            ProfileField::Username => "username",
            ProfileField::FirstName => "first_name",
            ProfileField::LastName => "last_name",
        }
    }
}

/// A user attribute copied into tokens (SimpleJWT recipes' custom claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtraClaim {
    Email,
    Username,
    FirstName,
    LastName,
    /// `"<first_name> <last_name>"`, trimmed.
    FullName,
    IsStaff,
    IsSuperuser,
}

impl ExtraClaim {
    /// Every claim.
    pub const ALL: [ExtraClaim; 7] = [
        ExtraClaim::Email,
        ExtraClaim::Username,
        ExtraClaim::FirstName,
        ExtraClaim::LastName,
        ExtraClaim::FullName,
        ExtraClaim::IsStaff,
        ExtraClaim::IsSuperuser,
    ];

    /// The claim's name in the token.
    pub fn name(self) -> &'static str {
        match self {
            ExtraClaim::Email => "email",
            ExtraClaim::Username => "username",
            ExtraClaim::FirstName => "first_name",
            ExtraClaim::LastName => "last_name",
            ExtraClaim::FullName => "full_name",
            ExtraClaim::IsStaff => "is_staff",
            ExtraClaim::IsSuperuser => "is_superuser",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for field in ProfileField::ALL {
            let parsed: ProfileField = serde_json::from_value(serde_json::json!(field.name())).expect("parses");
            assert_eq!(parsed, field);
        }
        for claim in ExtraClaim::ALL {
            let parsed: ExtraClaim = serde_json::from_value(serde_json::json!(claim.name())).expect("parses");
            assert_eq!(parsed, claim);
        }
        assert!(serde_json::from_value::<ProfileField>(serde_json::json!("password")).is_err());
        assert!(serde_json::from_value::<ExtraClaim>(serde_json::json!("password")).is_err());
    }
}
