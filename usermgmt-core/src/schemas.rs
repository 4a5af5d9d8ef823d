//! OpenAPI schemas (feature `openapi`) of text values whose rules a plain `string` does not
//! say: role names, filter texts, ISO country codes and IANA time zones. Fields carry them with
//! `#[schema(value_type = …)]`; the rules are the ones the validators in this crate apply.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// Any number of characters without control characters (`char::is_control`).
pub const PRINTABLE: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// Printable, and not blank: at least one character that is not white space.
pub const PRINTABLE_NOT_BLANK: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";
/// A locale: a BCP 47 language tag of the common shape `language[-Script][-REGION]`
/// (`en`, `pt-BR`, `zh-Hant-TW`, `es-419`), case ignored, spaces around it ignored.
pub const LOCALE: &str = r"^\s*[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?\s*$";
/// A role name as given: 1–64 of `A-Z a-z 0-9 . - _` (lower-cased when stored), spaces
/// around it ignored.
pub const ROLE_NAME: &str = r"^\s*[A-Za-z0-9._-]{1,64}\s*$";

fn text(pattern: &str, max_length: Option<usize>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(pattern))
        .max_length(max_length)
        .description(Some(description))
        .into()
}

fn one_of(values: Vec<String>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

macro_rules! text_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {}
    };
}

text_schema!(
    /// A role name.
    RoleName => text(ROLE_NAME, None, "A role name: 1-64 of a-z 0-9 . - _ (case ignored)")
);
text_schema!(
    /// One value of a text filter (city, state, designation, expertise, program), or a
    /// required search term.
    FilterText => text(PRINTABLE_NOT_BLANK, Some(200), "1-200 printable characters")
);
text_schema!(
    /// A provisioning token's label.
    TokenName => text(PRINTABLE_NOT_BLANK, Some(100), "1-100 printable characters")
);
text_schema!(
    /// One value of an identity filter (email, username, unique ID).
    IdentityText => text(PRINTABLE_NOT_BLANK, Some(254), "1-254 printable characters")
);
text_schema!(
    /// An optional search term (blank means none).
    SearchText => text(PRINTABLE, Some(200), "At most 200 printable characters")
);
text_schema!(
    /// Text to look for among a field's values.
    ValueQuery => text(PRINTABLE, Some(100), "At most 100 printable characters")
);
text_schema!(
    /// Why an administrator impersonates a user.
    Reason => text(PRINTABLE_NOT_BLANK, Some(500), "1-500 printable characters")
);
text_schema!(
    /// An account id at an OAuth provider.
    ExternalId => text(PRINTABLE_NOT_BLANK, Some(255), "1-255 printable characters")
);
text_schema!(
    /// A day of a growth series, 1900-01-01 to 9999-12-31.
    GrowthDate => ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Date,
        )))
        .pattern(Some(r"^(19[0-9]{2}|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"))
        .description(Some("A day, YYYY-MM-DD, from 1900-01-01 to 9999-12-31"))
        .into()
);
text_schema!(
    /// A locale tag.
    LocaleTag => text(LOCALE, None, "A locale: language[-Script][-REGION], e.g. pt-BR")
);
text_schema!(
    /// An ISO 3166-1 alpha-2 country code.
    CountryCode => one_of(
        (b'A'..=b'Z')
            .flat_map(|a| (b'A'..=b'Z').map(move |b| [a, b]))
            .filter_map(|code| String::from_utf8(code.to_vec()).ok())
            .filter(|code| crate::model::continent_of(code).is_some())
            .collect(),
        "An ISO 3166-1 alpha-2 country code",
    )
);
text_schema!(
    /// An IANA time zone name.
    TimeZoneName => one_of(
        chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name().to_owned()).collect(),
        "An IANA time zone name",
    )
);

impl PartialSchema for crate::model::Permission {
    fn schema() -> RefOr<Schema> {
        text(
            crate::model::PERMISSION_NAME_PATTERN,
            Some(crate::model::MAX_PERMISSION_NAME_LEN),
            "A permission name: a built-in one or one the host application registered",
        )
    }
}

impl ToSchema for crate::model::Permission {}
