//! Closed vocabularies of the user model.

use super::string_enum::string_enum;

string_enum! {
    /// Account status. `Deleted` is the soft-deleted state.
    pub enum Status {
        /// Normal account.
        Active => "active",
        /// Disabled; login refused.
        Inactive => "inactive",
        /// Suspended by an administrator; login refused with a "suspended" message.
        Suspended => "suspended",
        /// Must verify before logging in.
        PendingVerification => "pending_verification",
        /// Soft-deleted: data kept, hidden from lists unless asked for.
        Deleted => "deleted",
    }
}

string_enum! {
    /// How the user primarily signs in.
    pub enum AuthMethod {
        /// Email (and password).
        Email => "email",
        /// Phone (and password or OTP).
        Phone => "phone",
        /// A linked OAuth provider.
        Oauth => "oauth",
    }
}

string_enum! {
    /// OAuth providers a user can link.
    pub enum OAuthProvider {
        /// Google.
        Google => "google",
        /// Facebook.
        Facebook => "facebook",
        /// GitHub.
        Github => "github",
        /// Apple.
        Apple => "apple",
    }
}

string_enum! {
    /// Self-described gender.
    pub enum Gender {
        /// Male.
        Male => "male",
        /// Female.
        Female => "female",
        /// Non-binary.
        NonBinary => "non_binary",
        /// Another gender.
        Other => "other",
        /// Chose not to say.
        PreferNotToSay => "prefer_not_to_say",
    }
}

string_enum! {
    /// Continent, derived from the country.
    pub enum Continent {
        /// Africa.
        Africa => "africa",
        /// Antarctica.
        Antarctica => "antarctica",
        /// Asia.
        Asia => "asia",
        /// Europe.
        Europe => "europe",
        /// North America (including Central America and the Caribbean).
        NorthAmerica => "north_america",
        /// Oceania (Australia and the Pacific).
        Oceania => "oceania",
        /// South America.
        SouthAmerica => "south_america",
    }
}

string_enum! {
    /// Status of an enrollment in the learning service (cross-service filters).
    pub enum EnrollmentStatus {
        /// In progress.
        Active => "active",
        /// Finished.
        Completed => "completed",
        /// Cancelled.
        Cancelled => "cancelled",
        /// Past its end date.
        Expired => "expired",
        /// Suspended.
        Suspended => "suspended",
    }
}
