//! Validation and normalisation of user input. Every failure becomes a field error, and all
//! of them are reported together.

use chrono::{NaiveDate, Utc};

use crate::error::FieldErrors;
use crate::model::{AuthMethod, Permission, Profile, Status, normalize_role_name};

/// Longest accepted name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Longest accepted bio, in characters.
pub const MAX_BIO_LEN: usize = 4000;
/// Longest accepted short text field (city, state, designation, expertise item), in characters.
pub const MAX_SHORT_TEXT_LEN: usize = 200;
/// Most areas of expertise per user.
pub const MAX_EXPERTISE: usize = 50;
/// Most roles a user may hold (and a request may name).
pub const MAX_ROLES: usize = 100;
pub use crate::model::permission::MAX_PERMISSIONS;

/// Refuses a list of more than `max` items, with a field error on `field`.
pub fn check_list_len(len: usize, max: usize, field: &str) -> Result<(), FieldErrors> {
    if len <= max {
        return Ok(());
    }
    let mut e = FieldErrors::new();
    e.add(field, format!("at most {max} items"));
    Err(e)
}

/// Refuses a list longer than `max` before any of it is processed (its items are then
/// dropped, so nothing downstream sees an oversized list). True when within bounds.
pub fn cap_list<T>(list: &mut Vec<T>, max: usize, field: &str, e: &mut FieldErrors) -> bool {
    match check_list_len(list.len(), max, field) {
        Ok(()) => true,
        Err(errors) => {
            e.merge(errors);
            list.clear();
            false
        }
    }
}

/// The editable fields of a user, before validation. Creation builds one from the input;
/// an update starts from the stored user and applies the patch, then the same rules run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDraft {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Unique ID.
    pub unique_id: Option<String>,
    /// Status.
    pub status: Status,
    /// Admin flag.
    pub is_admin: bool,
    /// Instructor flag.
    pub is_instructor: bool,
    /// Learner flag.
    pub is_learner: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Direct permissions.
    pub permissions: Vec<Permission>,
    /// Email verified.
    pub email_verified: bool,
    /// Phone verified.
    pub phone_verified: bool,
    /// Primary sign-in method; defaults from the credentials present.
    pub auth_method: Option<AuthMethod>,
    /// Profile (its `continent` is ignored and derived).
    pub profile: Profile,
}

/// Settings the validation rules depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRules {
    /// Region assumed for phone numbers written without `+` (ISO alpha-2, e.g. `US`).
    pub default_phone_region: Option<String>,
}

impl UserDraft {
    /// Validates every rule of SPEC §3 and normalises the values in place (trimmed text, lower
    /// -cased email, E.164 phone, canonical codes, derived auth method).
    pub fn validate(
        &mut self,
        rules: &ValidationRules,
        today: NaiveDate,
    ) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();

        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            e.add("name", "is required");
        } else if self.name.chars().count() > MAX_NAME_LEN
            || self.name.chars().any(char::is_control)
        {
            e.add(
                "name",
                format!("must be at most {MAX_NAME_LEN} printable characters"),
            );
        }

        self.email = blank_to_none(self.email.take());
        if let Some(email) = self.email.take() {
            match normalize_email(&email) {
                Ok(email) => self.email = Some(email),
                Err(message) => e.add("email", message),
            }
        }
        self.phone = blank_to_none(self.phone.take());
        if let Some(phone) = self.phone.take() {
            match normalize_phone(&phone, rules.default_phone_region.as_deref()) {
                Ok(phone) => self.phone = Some(phone),
                Err(message) => e.add("phone", message),
            }
        }
        if self.email.is_none()
            && self.phone.is_none()
            && e.get("email").is_none()
            && e.get("phone").is_none()
        {
            e.add("email", "an email or a phone is required");
        }

        self.username = blank_to_none(self.username.take());
        if let Some(username) = &self.username
            && let Err(message) = check_username(username)
        {
            e.add("username", message);
        }
        self.unique_id = blank_to_none(self.unique_id.take());
        if let Some(unique_id) = &self.unique_id
            && let Err(message) = check_unique_id(unique_id)
        {
            e.add("unique_id", message);
        }

        if !(self.is_admin || self.is_instructor || self.is_learner) {
            e.add(
                "is_learner",
                "at least one of is_admin, is_instructor, is_learner is required",
            );
        }
        let mut roles = std::mem::take(&mut self.roles);
        let roles_fit = cap_list(&mut roles, MAX_ROLES, "roles", &mut e);
        cap_list(
            &mut self.permissions,
            MAX_PERMISSIONS,
            "permissions",
            &mut e,
        );
        for raw in roles {
            if let Some(role) = normalize_role_name(&raw, "roles", &mut e)
                && !self.roles.contains(&role)
            {
                self.roles.push(role);
            }
        }
        self.roles.sort();
        if roles_fit && (self.is_admin || self.is_instructor) && self.roles.is_empty() {
            e.add("roles", "admin and instructor users need at least one role");
        }
        self.permissions.sort();
        self.permissions.dedup();

        match self.auth_method {
            None => {
                self.auth_method = Some(if self.email.is_some() || self.phone.is_none() {
                    AuthMethod::Email
                } else {
                    AuthMethod::Phone
                });
            }
            Some(AuthMethod::Email) if self.email.is_none() => {
                e.add("auth_method", "`email` needs an email address");
            }
            Some(AuthMethod::Phone) if self.phone.is_none() => {
                e.add("auth_method", "`phone` needs a phone number");
            }
            Some(_) => {}
        }
        if self.email.is_none() && self.email_verified {
            e.add("email_verified", "cannot be true without an email");
        }
        if self.phone.is_none() && self.phone_verified {
            e.add("phone_verified", "cannot be true without a phone");
        }

        validate_profile(&mut self.profile, today, &mut e);

        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

fn validate_profile(p: &mut Profile, today: NaiveDate, e: &mut FieldErrors) {
    p.avatar_url = blank_to_none(p.avatar_url.take());
    if let Some(url) = &p.avatar_url {
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok
            || url.len() > 2048
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            e.add(
                "avatar_url",
                "must be an http(s) URL of at most 2048 characters",
            );
        }
    }
    p.bio = blank_to_none(p.bio.take());
    if p.bio
        .as_ref()
        .is_some_and(|bio| bio.chars().count() > MAX_BIO_LEN)
    {
        e.add("bio", format!("must be at most {MAX_BIO_LEN} characters"));
    }
    p.country = blank_to_none(p.country.take()).map(|c| c.to_ascii_uppercase());
    if let Some(country) = &p.country
        && (country.len() != 2 || crate::model::continent_of(country).is_none())
    {
        e.add("country", "must be an ISO 3166-1 alpha-2 code");
    }
    for (field, value) in [
        ("city", &mut p.city),
        ("state", &mut p.state),
        ("designation", &mut p.designation),
    ] {
        *value = blank_to_none(value.take());
        if value.as_ref().is_some_and(|v| !short_text_ok(v)) {
            e.add(
                field,
                format!("must be at most {MAX_SHORT_TEXT_LEN} printable characters"),
            );
        }
    }
    p.timezone = blank_to_none(p.timezone.take());
    if let Some(zone) = p.timezone.take() {
        match canonical_timezone(&zone) {
            Some(zone) => p.timezone = Some(zone),
            None => e.add(
                "timezone",
                "must be an IANA time zone such as Europe/Berlin",
            ),
        }
    }
    p.locale = blank_to_none(p.locale.take());
    if let Some(locale) = p.locale.take() {
        match canonical_locale(&locale) {
            Some(locale) => p.locale = Some(locale),
            None => e.add("locale", "must be a BCP 47 language tag such as en-US"),
        }
    }
    let mut expertise = std::mem::take(&mut p.expertise);
    cap_list(&mut expertise, MAX_EXPERTISE, "expertise", e);
    for item in expertise {
        let item = item.trim().to_owned();
        if item.is_empty() {
            continue;
        }
        if !short_text_ok(&item) {
            e.add(
                "expertise",
                format!("items must be at most {MAX_SHORT_TEXT_LEN} printable characters"),
            );
        } else if !p.expertise.iter().any(|x| x.eq_ignore_ascii_case(&item)) {
            p.expertise.push(item);
        }
    }
    if p.expertise.len() > MAX_EXPERTISE {
        e.add("expertise", format!("at most {MAX_EXPERTISE} items"));
    }
    if let Some(dob) = p.date_of_birth {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
        if dob > today || dob < earliest {
            e.add("date_of_birth", "must be between 1900-01-01 and today");
        }
    }
    p.continent = p.country.as_deref().and_then(crate::model::continent_of);
}

fn short_text_ok(value: &str) -> bool {
    value.chars().count() <= MAX_SHORT_TEXT_LEN && !value.chars().any(char::is_control)
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Trims, lower-cases and checks the syntax of an email address.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.len() > 254 || !email_address::EmailAddress::is_valid(&email) {
        return Err("is not a valid email address".to_owned());
    }
    Ok(email)
}

/// Parses a phone number (international `+…` form, or national form in `default_region`) and
/// formats it as E.164.
pub fn normalize_phone(raw: &str, default_region: Option<&str>) -> Result<String, String> {
    let region = default_region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(region, raw.trim())
        .map_err(|_| "is not a phone number (use the +<country><number> form)".to_owned())?;
    if !phonenumber::is_valid(&number) {
        return Err("is not a valid phone number".to_owned());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Usernames: 3–64 characters of `a-z 0-9 . - _`.
pub fn check_username(username: &str) -> Result<(), String> {
    let valid = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err("must be 3-64 characters of a-z 0-9 . - _".to_owned())
    }
}

/// Unique IDs: 1–64 characters of `A-Z a-z 0-9 . - _ /`.
pub fn check_unique_id(unique_id: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&unique_id.len())
        && unique_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if valid {
        Ok(())
    } else {
        Err("must be 1-64 characters of A-Z a-z 0-9 . - _ /".to_owned())
    }
}

/// The canonical IANA name of a time zone, if `raw` is one.
pub fn canonical_timezone(raw: &str) -> Option<String> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .ok()
        .map(|tz| tz.name().to_owned())
}

/// A locale, if `raw` is a BCP 47 tag of the shape `language[-Script][-REGION]` (`en`,
/// `pt-BR`, `zh-Hant-TW`, `es-419`; case kept as given, compared ignoring case).
pub fn canonical_locale(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let mut parts = raw.split('-');
    let language = parts.next()?;
    let alpha = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
    };
    if !alpha(language, 2..=3) {
        return None;
    }
    let mut rest: Vec<&str> = parts.collect();
    if rest.first().is_some_and(|s| alpha(s, 4..=4)) {
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => {}
        [region] if alpha(region, 2..=2) => {}
        [region] if region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => return None,
    }
    language_tags::LanguageTag::parse(raw)
        .ok()
        .map(|tag| tag.to_string())
}

/// Today's date in UTC.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> UserDraft {
        UserDraft {
            name: " Ada ".into(),
            email: Some(" Ada@Example.COM ".into()),
            phone: None,
            username: None,
            unique_id: None,
            status: Status::Active,
            is_admin: false,
            is_instructor: false,
            is_learner: true,
            roles: vec![],
            permissions: vec![],
            email_verified: false,
            phone_verified: false,
            auth_method: None,
            profile: Profile::default(),
        }
    }

    fn rules() -> ValidationRules {
        ValidationRules {
            default_phone_region: None,
        }
    }

    #[test]
    fn normalises_a_valid_draft() {
        let mut d = draft();
        d.phone = Some("+1 415 555 2671".into());
        d.profile.country = Some("de".into());
        assert_eq!(d.validate(&rules(), today()), Ok(()));
        assert_eq!(d.name, "Ada");
        assert_eq!(d.email.as_deref(), Some("ada@example.com"));
        assert_eq!(d.phone.as_deref(), Some("+14155552671"));
        assert_eq!(d.profile.country.as_deref(), Some("DE"));
        assert_eq!(d.auth_method, Some(AuthMethod::Email));
    }

    #[test]
    fn reports_every_field_at_once() {
        let mut d = draft();
        d.name = "   ".into();
        d.email = Some("not-an-email".into());
        d.phone = Some("12".into());
        d.username = Some("AB".into());
        d.is_learner = false;
        d.profile.timezone = Some("Mars/Olympus".into());
        let errors = d.validate(&rules(), today()).err().unwrap_or_default();
        for field in [
            "name",
            "email",
            "phone",
            "username",
            "is_learner",
            "timezone",
        ] {
            assert!(errors.get(field).is_some(), "{field} missing in {errors}");
        }
    }

    #[test]
    fn admins_need_a_role_and_someone_needs_a_credential() {
        let mut d = draft();
        d.email = None;
        d.is_admin = true;
        let errors = d.validate(&rules(), today()).err().unwrap_or_default();
        assert!(errors.get("roles").is_some());
        assert!(errors.get("email").is_some());
    }

    #[test]
    fn national_phone_numbers_use_the_default_region() {
        let national = normalize_phone("030 1234567", Some("DE"));
        assert_eq!(national.as_deref(), Ok("+49301234567"));
        assert!(normalize_phone("030 1234567", None).is_err());
    }
}
