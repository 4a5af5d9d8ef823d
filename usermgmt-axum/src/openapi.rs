//! The OpenAPI 3 document: paths and schemas come from the handlers' `#[utoipa::path]`
//! annotations as they are mounted; this module adds what every operation shares (security
//! schemes and the error response). [`crate::router`] serves it at `GET /v1/openapi.json`.

use usermgmt_core::filter::{SortBy, SortOrder, UserFilters};
use usermgmt_core::model::{GrowthInterval, OverviewPeriod};
use usermgmt_core::service::ExportFormat;
use utoipa::ToSchema;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, ContentBuilder, InfoBuilder, OpenApi, RefOr, ResponseBuilder};

use crate::error::ErrorBody;
use crate::system_auth::SYSTEM_TOKEN_HEADER;

/// Security scheme name of session bearer tokens.
const BEARER: &str = "session_token";
/// Security scheme name of the system API's token.
const SYSTEM: &str = "system_token";
/// Routes anyone may call.
const PUBLIC: &[&str] = &[
    "/v1/auth/login",
    "/v1/auth/password-reset",
    "/v1/auth/password-reset/confirm",
    "/v1/auth/invitation/accept",
    "/v1/auth/verification",
    "/v1/auth/verify",
    "/v1/auth/verify/code",
    "/v1/openapi.json",
];

/// Adds the info block, the security schemes, each operation's security requirement and the
/// shared error response.
pub(crate) fn complete(mut api: OpenApi) -> OpenApi {
    api.info = InfoBuilder::new()
        .title("usermgmt")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Permission-checked admin user management. Errors answer \
             `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
        ))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A session token from POST /v1/auth/login."))
                .build(),
        ),
    );
    components.add_security_scheme(
        SYSTEM,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            SYSTEM_TOKEN_HEADER,
            "The service-to-service token configured on the server (system API only; also \
             accepted as `Authorization: Bearer <token>`).",
        ))),
    );
    // Schemas the operations refer to but utoipa-axum does not collect: the error body and
    // the types of query parameters (a test fails on any dangling reference).
    register::<ErrorBody>(components);
    register::<UserFilters>(components);
    register::<usermgmt_core::filter::EnrollmentFilters>(components);
    register::<SortBy>(components);
    register::<SortOrder>(components);
    register::<ExportFormat>(components);
    register::<usermgmt_core::service::ImportMode>(components);
    register::<OverviewPeriod>(components);
    register::<GrowthInterval>(components);
    register::<usermgmt_core::model::ValueField>(components);
    register::<usermgmt_core::schemas::RoleName>(components);
    register::<usermgmt_core::schemas::FilterText>(components);
    register::<usermgmt_core::schemas::CountryCode>(components);
    register::<usermgmt_core::schemas::TimeZoneName>(components);
    register::<usermgmt_core::schemas::LocaleTag>(components);
    register::<usermgmt_core::schemas::SearchText>(components);
    register::<usermgmt_core::schemas::ValueQuery>(components);
    register::<usermgmt_core::schemas::Reason>(components);
    register::<usermgmt_core::schemas::IdentityText>(components);
    register::<usermgmt_core::schemas::TokenName>(components);
    register::<usermgmt_core::schemas::ExternalId>(components);
    register::<usermgmt_core::schemas::GrowthDate>(components);
    register::<usermgmt_core::model::Permission>(components);

    let error = ResponseBuilder::new()
        .description("An error in the JSON error model (4xx for the request, 5xx for the server).")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    ErrorBody::name(),
                ))))
                .build(),
        )
        .build();
    for (path, item) in api.paths.paths.iter_mut() {
        let security = if PUBLIC.contains(&path.as_str()) {
            Vec::new()
        } else if path.starts_with("/v1/system/") {
            vec![SecurityRequirement::new(SYSTEM, Vec::<String>::new())]
        } else {
            vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]
        };
        for operation in operations(item) {
            operation.security = Some(security.clone());
            operation
                .responses
                .responses
                .insert("default".to_owned(), RefOr::T(error.clone()));
        }
    }
    api
}

/// Adds `T`'s schema and those it refers to.
fn register<T: ToSchema>(components: &mut Components) {
    let mut schemas = Vec::new();
    T::schemas(&mut schemas);
    components.schemas.extend(schemas);
    components
        .schemas
        .insert(T::name().into_owned(), T::schema());
}

/// Every operation of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Declares the `Permission` schema as the registry's names: the document a server serves
/// states exactly which permissions it accepts (the static [`crate::openapi`] document says
/// only their shape).
pub(crate) fn with_registry(
    mut api: OpenApi,
    registry: &usermgmt_core::model::PermissionRegistry,
) -> OpenApi {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let names: Vec<String> = registry
        .catalog()
        .into_iter()
        .map(|p| p.permission.as_str().to_owned())
        .collect();
    let schema = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(names))
        .description(Some(
            "A registered permission: a built-in one or one the host application registered",
        ))
        .into();
    let components = api.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        <usermgmt_core::model::Permission as ToSchema>::name().into_owned(),
        schema,
    );
    api
}
