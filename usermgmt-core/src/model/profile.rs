//! Profile fields, the country → continent derivation and the completeness score.

use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::vocab::{Continent, Gender};

/// The profile part of a user. `continent` is derived from `country` and never set directly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Free-text biography.
    pub bio: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State, province or region.
    pub state: Option<String>,
    /// Derived from `country`.
    pub continent: Option<Continent>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    /// BCP 47 language tag, e.g. `en-US`.
    pub locale: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Job title or designation.
    pub designation: Option<String>,
    /// Areas of expertise (deduplicated ignoring ASCII case, in input order).
    pub expertise: Vec<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
}

/// Points each profile field contributes to [`Profile::completeness`]; they add up to 100.
///
/// avatar 15, bio 15, country 10, city 10, state 5, timezone 10, locale 5, gender 5,
/// designation 10, expertise (at least one) 10, date of birth 5.
pub const COMPLETENESS_WEIGHTS: [(&str, u8); 11] = [
    ("avatar_url", 15),
    ("bio", 15),
    ("country", 10),
    ("city", 10),
    ("state", 5),
    ("timezone", 10),
    ("locale", 5),
    ("gender", 5),
    ("designation", 10),
    ("expertise", 10),
    ("date_of_birth", 5),
];

/// A profile counts as complete (`profile_complete=true`) from this score on.
pub const PROFILE_COMPLETE_THRESHOLD: u8 = 80;

impl Profile {
    /// Profile completeness, 0–100: the sum of [`COMPLETENESS_WEIGHTS`] of the fields present.
    pub fn completeness(&self) -> u8 {
        let present = [
            self.avatar_url.is_some(),
            self.bio.is_some(),
            self.country.is_some(),
            self.city.is_some(),
            self.state.is_some(),
            self.timezone.is_some(),
            self.locale.is_some(),
            self.gender.is_some(),
            self.designation.is_some(),
            !self.expertise.is_empty(),
            self.date_of_birth.is_some(),
        ];
        COMPLETENESS_WEIGHTS
            .iter()
            .zip(present)
            .filter(|(_, present)| *present)
            .map(|((_, weight), _)| weight)
            .sum()
    }

    /// Whether the user has a location (`has_location`): a country or a city.
    pub fn has_location(&self) -> bool {
        self.country.is_some() || self.city.is_some()
    }
}

/// The continent of an ISO 3166-1 alpha-2 country code (case-insensitive), or `None` when the
/// code is unknown. Data from the `keshvar` crate (Australia's continent is reported as
/// Oceania), tabulated once for all 676 two-letter codes so look-ups are constant time.
pub fn continent_of(country: &str) -> Option<Continent> {
    static TABLE: OnceLock<Vec<Option<Continent>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (b'A'..=b'Z')
            .flat_map(|a| (b'A'..=b'Z').map(move |b| [a, b]))
            .map(|code| std::str::from_utf8(&code).ok().and_then(lookup_continent))
            .collect()
    });
    match country.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            let index = usize::from(a.to_ascii_uppercase() - b'A') * 26
                + usize::from(b.to_ascii_uppercase() - b'A');
            table.get(index).copied().flatten()
        }
        _ => None,
    }
}

fn lookup_continent(code: &str) -> Option<Continent> {
    let alpha2 = keshvar::Alpha2::try_from(code).ok()?;
    Some(match alpha2.to_country().continent() {
        keshvar::Continent::Africa => Continent::Africa,
        keshvar::Continent::Antarctica => Continent::Antarctica,
        keshvar::Continent::Asia => Continent::Asia,
        keshvar::Continent::Australia => Continent::Oceania,
        keshvar::Continent::Europe => Continent::Europe,
        keshvar::Continent::NorthAmerica => Continent::NorthAmerica,
        keshvar::Continent::SouthAmerica => Continent::SouthAmerica,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_add_up_to_one_hundred() {
        let total: u32 = COMPLETENESS_WEIGHTS
            .iter()
            .map(|(_, w)| u32::from(*w))
            .sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn completeness_counts_present_fields() {
        let mut profile = Profile::default();
        assert_eq!(profile.completeness(), 0);
        profile.avatar_url = Some("https://x/a.png".into());
        profile.expertise = vec!["rust".into()];
        assert_eq!(profile.completeness(), 25);
    }

    #[test]
    fn continents_come_from_country_codes() {
        assert_eq!(continent_of("DE"), Some(Continent::Europe));
        assert_eq!(continent_of("us"), Some(Continent::NorthAmerica));
        assert_eq!(continent_of("AU"), Some(Continent::Oceania));
        assert_eq!(continent_of("BR"), Some(Continent::SouthAmerica));
        assert_eq!(continent_of("NG"), Some(Continent::Africa));
        assert_eq!(continent_of("JP"), Some(Continent::Asia));
        assert_eq!(continent_of("XX"), None);
        assert_eq!(continent_of("D"), None);
        assert_eq!(continent_of("ÄÖ"), None);
        assert_eq!(continent_of("d3"), None);
    }
}
