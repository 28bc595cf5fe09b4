//! What the shared layers answer, written into every operation of the OpenAPI document. The
//! handlers' annotations list what the handler itself answers; the layers every request passes
//! first (key lookup and kind, rate limits, the idempotency layer, the path and query
//! extractors) can answer on any operation, so those statuses are added here, each with the
//! error object, rather than repeated by hand on 61 annotations and forgotten on the next one.
//! `tests/openapi_truth.rs` holds the document to this.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::Modify;

/// The status, and why any operation of the kind may answer it.
const AUTHENTICATED: [(&str, &str); 3] = [
    ("401", "No API key, or an unknown, revoked or expired one"),
    (
        "403",
        "This kind of key (secret, publishable, operator) may not call this operation",
    ),
    (
        "429",
        "Too many requests for this key or from this address; see Retry-After",
    ),
];
const WITH_INPUT: (&str, &str) = (
    "400",
    "A parameter, query string, header or body is malformed or breaks a rule of the API",
);
/// A path id, a cursor or an id in the body that names no object of this key.
const NAMES_AN_OBJECT: (&str, &str) = ("404", "No such object for this key");
const IDEMPOTENT: [(&str, &str); 2] = [
    ("409", "A request with this Idempotency-Key is still being processed, or the object's state forbids the change"),
    ("422", "This Idempotency-Key was already used with a different request"),
];

/// `Idempotency-Key`: 1 to 255 visible ASCII characters (`idempotency_layer` refuses others).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_path_id = path.contains('{');
            let ops = [
                (false, item.get.as_mut()),
                (true, item.post.as_mut()),
                (true, item.delete.as_mut()),
                (true, item.put.as_mut()),
                (true, item.patch.as_mut()),
            ];
            for (writes, op) in ops {
                if let Some(op) = op {
                    complete(op, has_path_id, writes);
                }
            }
        }
    }
}

fn complete(op: &mut Operation, has_path_id: bool, writes: bool) {
    let mut statuses = Vec::new();
    if op.security.is_some() {
        statuses.extend(AUTHENTICATED);
    } else {
        // Public operations are rate limited per client address and per object.
        statuses.push(AUTHENTICATED[2]);
    }
    let has_input =
        op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || op.request_body.is_some();
    if has_input {
        statuses.push(WITH_INPUT);
    }
    if has_path_id || has_input {
        statuses.push(NAMES_AN_OBJECT);
    }
    // Public writes (no key: Solana Pay transaction requests) store nothing and are outside
    // the idempotency layer, which scopes keys to an authenticated caller.
    if writes && op.security.is_some() {
        statuses.extend(IDEMPOTENT);
    }
    for (status, description) in statuses {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response(description)));
    }
    for param in op.parameters.iter_mut().flatten() {
        if param.parameter_in == ParameterIn::Header && param.name == "Idempotency-Key" {
            param.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(IDEMPOTENCY_KEY_PATTERN))
                    .into(),
            ));
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Request bodies refuse unknown fields (`#[serde(deny_unknown_fields)]` on every request
/// type, DESIGN.md §5: `parameter_unknown`), so every object a request body can hold is
/// written with `additionalProperties: false`, including the variants of tagged enums, which
/// utoipa leaves open.
pub struct ClosedRequestBodies;

impl Modify for ClosedRequestBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut pending: Vec<RefOr<Schema>> = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for content in op
                    .request_body
                    .iter_mut()
                    .flat_map(|b| b.content.values_mut())
                {
                    if let Some(schema) = content.schema.as_mut() {
                        close(schema, &mut pending);
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        // An empty body is read as `{}` (`body::parse_json`), so a body whose fields are all
        // optional may be left out.
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ];
            for body in ops
                .into_iter()
                .flatten()
                .filter_map(|op| op.request_body.as_mut())
            {
                let all_optional = body.content.values().all(|c| match &c.schema {
                    Some(RefOr::Ref(r)) => {
                        let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                        matches!(components.schemas.get(name),
                            Some(RefOr::T(Schema::Object(o))) if o.required.is_empty())
                    }
                    Some(RefOr::T(Schema::Object(o))) => o.required.is_empty(),
                    _ => false,
                });
                if all_optional {
                    body.required = Some(Required::False);
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        while let Some(next) = pending.pop() {
            let RefOr::Ref(reference) = next else {
                continue;
            };
            let name = reference
                .ref_location
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(schema) = components.schemas.get_mut(&name) {
                close(schema, &mut pending);
            }
        }
    }
}

/// Closes the objects of `schema` in place; references are queued for the caller to follow.
fn close(schema: &mut RefOr<Schema>, refs: &mut Vec<RefOr<Schema>>) {
    let schema = match schema {
        RefOr::Ref(r) => {
            refs.push(RefOr::Ref(r.clone()));
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            if !object.properties.is_empty() && object.additional_properties.is_none() {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            object.properties.values_mut().for_each(|p| close(p, refs));
            if let Some(AdditionalProperties::RefOr(inner)) =
                object.additional_properties.as_deref_mut()
            {
                close(inner, refs);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                close(items, refs);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(|s| close(s, refs)),
        Schema::AllOf(all) => all.items.iter_mut().for_each(|s| close(s, refs)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|s| close(s, refs)),
        _ => {}
    }
}
