//! The API contract: an OpenAPI 3.1 document built from the handlers' annotations
//! (GET /openapi.json), and a reference page that reads it (GET /docs), served offline.
//!
//! Responses every operation of a kind can give (401 for a protected one, 413/415/422 for
//! one with a body, 503 when the database is busy) are added once, by [`CommonResponses`].

use super::{admin, auth, health, requests};
use crate::errors::ErrorBody;
use crate::web::assets;
use actix_web::HttpResponse;
use actix_web::http::header;
use askama::Template;
use std::sync::OnceLock;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, OpenApi as Document, PathItem, RefOr, Required};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

/// The name of the bearer scheme operations refer to.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "maintenance",
        description = "Building-maintenance requests: residents report, the system classifies, admins resolve. \
            Errors are always `{\"detail\": \"...\"}`; log in at `POST /api/auth/login` and send the \
            `access_token` as `Authorization: Bearer <token>`."
    ),
    paths(
        health::health,
        auth::register,
        auth::login,
        auth::me,
        auth::update_me,
        auth::list_sessions,
        auth::change_password,
        auth::logout,
        auth::logout_everywhere,
        requests::submit_request,
        requests::list_all_requests,
        requests::list_my_requests,
        requests::show_request,
        requests::update_request,
        requests::delete_request,
        requests::show_history,
        requests::show_task_status,
        requests::upload_photo,
        requests::show_photo,
        requests::show_stats,
        admin::list_users,
        admin::change_role,
        admin::delete_user,
        admin::issue_reset_link,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme, &LiveSocket, &CommonResponses, &AlwaysSent),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "requests", description = "Maintenance requests"),
        (name = "admin", description = "Accounts, for super admins"),
        (name = "system", description = "Health and live updates"),
    )
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"detail\": \"cannot render the contract: {e}\"}}"))
    })
}

/// GET /openapi.json
pub async fn serve_document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage {
    script: String,
    icon: String,
}

/// GET /docs: the reference, drawn by the vendored RapiDoc script from our own origin.
pub async fn serve_docs() -> Result<HttpResponse, crate::errors::AppError> {
    let page = DocsPage {
        script: assets::url("rapidoc-min.js"),
        icon: assets::url("favicon.svg"),
    };
    let html = page.render().map_err(crate::errors::AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // RapiDoc sets style attributes on its elements; scripts stay 'self' only.
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .body(html))
}

const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     form-action 'self'; base-uri 'none'; object-src 'none'";

/// The schema of `TaskStatus::status`: the original's Celery task states.
pub fn celery_state() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["PENDING", "STARTED", "SUCCESS", "FAILURE"]))
        .into()
}

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The `access_token` from POST /api/auth/login (form fields `username`, `password`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// GET /ws, which OpenAPI can describe only up to the upgrade.
struct LiveSocket;

impl Modify for LiveSocket {
    fn modify(&self, openapi: &mut Document) {
        let query = |name: &str, description: &str, schema: RefOr<Schema>| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build()
        };
        let since = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0));
        let operation = OperationBuilder::new()
            .tag("system")
            .operation_id(Some("live_updates"))
            .summary(Some("Live updates over a WebSocket"))
            .description(Some(
                "Upgrades to a WebSocket after authenticating with `?token=`, the page session cookie or \
                 `Authorization: Bearer`. Every message is a JSON text frame `{\"id\", \"type\", \"data\"}` with \
                 `type` one of `new_request`, `request_updated`, `request_classified`, `request_deleted`; \
                 `?since=N` first replays the events after N.",
            ))
            .parameter(query("token", "an access token", String::schema()))
            .parameter(query("since", "the last event id seen", since.into()))
            .response("101", Response::new("Switching to the WebSocket protocol"))
            .response("400", error_response("Not a WebSocket upgrade request"))
            .response(
                "403",
                error_response("Authenticated by the page cookie from another origin"),
            )
            .security(utoipa::openapi::security::SecurityRequirement::new(
                BEARER,
                Vec::<String>::new(),
            ))
            .build();
        openapi
            .paths
            .add_path_operation("/ws", vec![HttpMethod::Get], operation);
    }
}

/// The server never omits a field of these (a missing value is `null`), so every
/// property is required, nullable or not; utoipa would make `Option` fields optional.
struct AlwaysSent;

const RESPONSE_SCHEMAS: &[&str] = &[
    "MaintenanceRequest",
    "User",
    "HistoryEntry",
    "TaskStatus",
    "TaskResult",
    "TokenResponse",
    "RoleChanged",
    "SessionInfo",
    "ResetLink",
];

impl Modify for AlwaysSent {
    fn modify(&self, openapi: &mut Document) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in RESPONSE_SCHEMAS {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
                object.required = object.properties.keys().cloned().collect();
            }
        }
    }
}

/// Adds the responses an operation can give because of what it is, not what it does.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let protected = operation
                    .security
                    .as_ref()
                    .is_some_and(|s| !s.is_empty() && s.iter().any(|r| r != &Default::default()));
                let has_body = operation.request_body.is_some();
                let has_params = operation.parameters.as_ref().is_some_and(|p| {
                    p.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
                });
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, response: Response| {
                    responses
                        .entry(code.to_owned())
                        .or_insert(RefOr::T(response));
                };
                if protected {
                    add("401", unauthorized_response());
                }
                if has_body {
                    add("413", error_response("The body is larger than allowed"));
                    add(
                        "415",
                        error_response("The body's content type is not accepted"),
                    );
                }
                if has_body || has_params {
                    add(
                        "422",
                        error_response("A parameter or the body is invalid; `fields` names them"),
                    );
                }
                add(
                    "503",
                    error_response("The database is busy; retry after `Retry-After` seconds"),
                );
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.post.as_mut(),
        item.patch.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// An error response with the `{"detail"}` body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                ErrorBody::name(),
            )))),
        )
        .build()
}

fn unauthorized_response() -> Response {
    let mut response = error_response("Missing, invalid or expired token");
    response.headers.insert(
        header::WWW_AUTHENTICATE.to_string(),
        HeaderBuilder::new()
            .schema(String::schema())
            .description(Some("`Bearer`"))
            .build(),
    );
    response
}
