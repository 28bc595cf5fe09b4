//! Reading request bodies and query strings ourselves, so every mistake in them becomes an
//! error object with a code and the offending `param` rather than axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::error::{ApiError, ErrorCode};

/// The raw request body, bounded by `server.max_body_bytes`.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.server.max_body_bytes;
        axum::body::to_bytes(req.into_body(), limit)
            .await
            .map(RawBody)
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::RequestTooLarge,
                    format!("Request bodies are limited to {limit} bytes."),
                )
            })
    }
}

/// Parses a JSON body into `T`; an empty body counts as `{}`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // Syntax first (cheap, allocates nothing), so `{} {}` is reported as broken JSON rather
    // than as whatever the first object lacks.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b"{"[0]) {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "The request body must be a JSON object.",
        ));
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    integral_floats_to_integers(&mut value);
    let value = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        serde_error(&path, &err.into_inner().to_string())
    })?;
    Ok(value)
}

/// JSON has one number type: `3600.0` is the integer 3600 to JSON Schema (and so to every
/// client generated from the OpenAPI document), so it is read as one. Only exact integers
/// change; `1.5` stays a float and is refused where an integer is wanted. Amounts are strings
/// and never pass through here as numbers.
fn integral_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Bounds of the exactly representable integers, so the cast below is exact.
            const EXACT: f64 = 9_007_199_254_740_992.0;
            if f.fract() == 0.0 && f.abs() <= EXACT {
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// Turns serde's message into a code and a param. serde reports unknown and missing fields by
/// name inside the message, so the name is lifted from between the backticks.
fn serde_error(path: &str, message: &str) -> ApiError {
    // Inside an internally tagged enum the path ends with a bare `.`: `source.`.
    let path = match path.strip_suffix('.') {
        Some(parent) if !parent.is_empty() => parent,
        _ => path,
    };
    let message = message.split(" at line ").next().unwrap_or(message);
    let quoted = message.split('`').nth(1).unwrap_or_default();
    let join = |field: &str| match path {
        "" | "." => field.to_owned(),
        parent => format!("{parent}.{field}"),
    };
    if message.starts_with("unknown field") {
        // serde_path_to_error already ends the path with the unknown key.
        let param = if path == quoted || path.ends_with(&format!(".{quoted}")) {
            path.to_owned()
        } else {
            join(quoted)
        };
        return ApiError::new(
            ErrorCode::ParameterUnknown,
            format!("Received unknown parameter: {param}"),
        )
        .param(param);
    }
    if message.starts_with("missing field") {
        let param = join(quoted);
        return ApiError::new(
            ErrorCode::ParameterMissing,
            format!("Missing required param: {param}."),
        )
        .param(param);
    }
    let param = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    let code = if param == "amount" || param.ends_with(".amount") {
        ErrorCode::InvalidAmount
    } else {
        ErrorCode::ParameterInvalid
    };
    let hint = if code == ErrorCode::InvalidAmount {
        " Amounts are decimal strings, like \"25.00\"."
    } else {
        ""
    };
    let err = ApiError::new(code, format!("Invalid value for {param}: {message}.{hint}"));
    if param.is_empty() {
        err
    } else {
        err.param(param)
    }
}

/// Parses a query string into `T` (which should deny unknown fields). A parameter given with
/// an empty value (`limit=`, as HTML forms send) counts as not given.
pub fn parse_query<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ApiError> {
    let pairs: Vec<_> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(_, value)| !value.is_empty())
        .collect();
    let kept = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(kept.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        serde_error(&path, &err.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        amount: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        address: String,
    }

    fn code_and_param(body: &str) -> (ErrorCode, Option<String>) {
        let err = parse_json::<Body>(body.as_bytes()).unwrap_err();
        (err.code, err.0.param)
    }

    #[test]
    fn json_mistakes_name_their_parameter() {
        let cases = [
            ("{", ErrorCode::InvalidJson, None),
            ("{\"amount\": \"1\"} trailing", ErrorCode::InvalidJson, None),
            ("[1]", ErrorCode::ParameterInvalid, None),
            ("{}", ErrorCode::ParameterMissing, Some("amount")),
            ("{\"amount\": 25}", ErrorCode::InvalidAmount, Some("amount")),
            (
                "{\"amount\": \"1\", \"bogus\": 1}",
                ErrorCode::ParameterUnknown,
                Some("bogus"),
            ),
            (
                "{\"amount\": \"1\", \"inner\": {}}",
                ErrorCode::ParameterMissing,
                Some("inner.address"),
            ),
            (
                "{\"amount\": \"1\", \"inner\": {\"address\": 5}}",
                ErrorCode::ParameterInvalid,
                Some("inner.address"),
            ),
            (
                "{\"amount\": \"1\", \"inner\": {\"address\": \"a\", \"x\": 1}}",
                ErrorCode::ParameterUnknown,
                Some("inner.x"),
            ),
        ];
        for (body, code, param) in cases {
            assert_eq!(
                code_and_param(body),
                (code, param.map(str::to_owned)),
                "{body}"
            );
        }
    }
}
