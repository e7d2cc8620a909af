//! From an IR `http` step to a [`Request`]: the glue the engine calls once it has
//! evaluated the step's (and its connection's) expressions.
//!
//! The rules: with a connection, the step's `url` is a path joined to the
//! connection's base URL with one `/`; the step's headers override the
//! connection's by name (case-insensitively); the step's `auth`, `timeout` and
//! `retry` override the connection's, and `auth: none` removes the connection's
//! auth; the breaker is the connection's. Secret values are filled from the vault
//! through [`Secrets`] here, at send time, and nowhere else.

use super::{
    Auth, Body, BreakerConfig, Error, Expected, Grant, HeaderValue, KeyPlace, Method, OAuth2,
    Request, Retry, SecretString,
};
use flowc_compiler::ir;
use flowc_compiler::ty::TypeTable;
use flowc_compiler::value::{SecretPart, Value};
use std::sync::Arc;
use std::time::Duration;

/// The vault, as the outbound client sees it.
pub trait Secrets {
    fn secret(&self, name: &str) -> Option<SecretString>;
}

/// A connection's evaluated expressions (once per deployment).
#[derive(Clone, Debug)]
pub struct ConnectionValues {
    pub base_url: Value,
    pub auth: Option<Value>,
    pub headers: Vec<(String, Value)>,
}

/// A step's evaluated expressions, in the order of the IR's lists.
#[derive(Clone, Debug)]
pub struct StepValues {
    pub url: Value,
    pub headers: Vec<(String, Value)>,
    pub query: Vec<(String, Value)>,
    /// The value of `json:` or `body:`, whichever the step has.
    pub body: Option<Value>,
    pub auth: Option<Value>,
}

/// Where the call comes from: `Idempotency-Key` is `{run_id}/{step_path}`.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub run_id: &'a str,
    pub step_path: &'a str,
}

/// Builds the request of one `http` step.
pub fn request(
    step: &ir::HttpRequest,
    values: &StepValues,
    connection: Option<(&ir::Connection, &ConnectionValues)>,
    types: &Arc<TypeTable>,
    secrets: &dyn Secrets,
    origin: Origin<'_>,
) -> Result<Request, Error> {
    let method = Method::from_bytes(step.method.as_bytes()).map_err(|_| Error::Invalid {
        reason: format!("`{}` is not an HTTP method", step.method),
    })?;
    let target = text(&values.url, "the URL")?;
    let url = match connection {
        Some((_, connection)) => join(&text(&connection.base_url, "the base URL")?, &target),
        None => target,
    };
    let mut request = Request::new(method, url).idempotency(origin.run_id, origin.step_path);
    if let Some((_, connection)) = connection {
        for (name, value) in &connection.headers {
            request
                .headers
                .push((name.clone(), header(value, secrets)?));
        }
    }
    for (name, value) in &values.headers {
        request
            .headers
            .retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
        request
            .headers
            .push((name.clone(), header(value, secrets)?));
    }
    for (name, value) in &values.query {
        if !value.is_null() {
            request
                .query
                .push((name.clone(), text(value, "a query parameter")?));
        }
    }
    request.body = match (&step.body, &values.body) {
        (Some(ir::Body::Json(_)), Some(value)) => Body::Json(value.to_json()),
        (Some(ir::Body::Text(_)), Some(value)) => Body::Bytes {
            content_type: Some("text/plain; charset=utf-8".into()),
            bytes: text(value, "the body")?.into_bytes(),
        },
        _ => Body::Empty,
    };
    let auth = values
        .auth
        .as_ref()
        .or(connection.and_then(|(_, values)| values.auth.as_ref()));
    request.auth = match auth {
        Some(auth) => auth_form(auth, secrets)?,
        None => Auth::None,
    };
    let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    request.timeout = step
        .timeout_ms
        .or(connection.and_then(|(ir, _)| ir.timeout_ms))
        .map(millis);
    request.retry = step
        .retry
        .or(connection.and_then(|(ir, _)| ir.retry))
        .map_or(Retry::NONE, Retry::from);
    if let Some((ir, _)) = connection {
        request.connection = Some(ir.name.clone());
        request.breaker = ir.circuit_breaker.map(BreakerConfig::from);
    }
    request.expect = step
        .expect
        .iter()
        .filter_map(|status| u16::try_from(*status).ok())
        .collect();
    request.response_type = Some(Expected {
        ty: step.response.clone(),
        types: Arc::clone(types),
    });
    Ok(request)
}

/// An evaluated auth form (`{"$tag": "bearer", "token": …}`, or `"none"`).
pub fn auth_form(value: &Value, secrets: &dyn Secrets) -> Result<Auth, Error> {
    let invalid = |reason: &str| Error::Invalid {
        reason: format!("auth: {reason}"),
    };
    let tag = match value {
        Value::String(tag) => tag.as_ref(),
        Value::Record(_) => match value.field("$tag") {
            Some(Value::String(tag)) => tag.as_ref(),
            _ => return Err(invalid("not an auth form")),
        },
        _ => return Err(invalid("not an auth form")),
    };
    let secret = |name: &str| -> Result<SecretString, Error> {
        match value.field(name) {
            Some(field) => resolve(field, secrets),
            None => Err(invalid(&format!("`{tag}` needs `{name}`"))),
        }
    };
    let plain = |name: &str| -> Result<Option<String>, Error> {
        value
            .field(name)
            .filter(|field| !field.is_null())
            .map(|field| text(field, name))
            .transpose()
    };
    let oauth = |grant: Grant| -> Result<Auth, Error> {
        let scopes = match value.field("scopes") {
            Some(Value::List(items)) => items
                .iter()
                .map(|item| text(item, "a scope"))
                .collect::<Result<Vec<_>, _>>()?,
            _ => Vec::new(),
        };
        Ok(Auth::OAuth2(OAuth2 {
            token_url: plain("token_url")?.ok_or_else(|| invalid("`token_url` is missing"))?,
            client_id: secret("client_id")?,
            client_secret: secret("client_secret")?,
            grant,
            scopes,
        }))
    };
    match tag {
        "none" => Ok(Auth::None),
        "bearer" => Ok(Auth::Bearer {
            token: secret("token")?,
        }),
        "basic" => Ok(Auth::Basic {
            username: secret("username")?,
            password: secret("password")?,
        }),
        "api_key" => {
            let place = match (plain("header")?, plain("query")?) {
                (Some(header), _) => KeyPlace::Header(header),
                (None, Some(query)) => KeyPlace::Query(query),
                (None, None) => return Err(invalid("`api_key` needs `header` or `query`")),
            };
            Ok(Auth::ApiKey {
                place,
                value: secret("value")?,
            })
        }
        "oauth2_client_credentials" => oauth(Grant::ClientCredentials),
        "oauth2_password" => oauth(Grant::Password {
            username: secret("username")?,
            password: secret("password")?,
        }),
        other => Err(invalid(&format!("unknown form `{other}`"))),
    }
}

/// `base` and `path` with exactly one `/` between them.
fn join(base: &str, path: &str) -> String {
    if path.is_empty() || path.starts_with('?') {
        return format!("{base}{path}");
    }
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// A plain value as text: strings as they are, other scalars as JSON writes them.
fn text(value: &Value, what: &str) -> Result<String, Error> {
    match value {
        Value::String(text) => Ok(text.to_string()),
        Value::Secret(_) => Err(Error::Invalid {
            reason: format!("{what} may not hold a secret"),
        }),
        other => Ok(match other.to_json() {
            serde_json::Value::String(text) => text,
            json => json.to_string(),
        }),
    }
}

fn header(value: &Value, secrets: &dyn Secrets) -> Result<HeaderValue, Error> {
    match value {
        Value::Secret(_) => Ok(HeaderValue::Secret(resolve(value, secrets)?)),
        other => Ok(HeaderValue::Text(text(other, "a header")?)),
    }
}

/// A secret (or plain) value with its vault entries filled in.
fn resolve(value: &Value, secrets: &dyn Secrets) -> Result<SecretString, Error> {
    match value {
        Value::Secret(parts) => {
            let mut out = String::new();
            for part in parts.iter() {
                match part {
                    SecretPart::Text(text) => out.push_str(text),
                    SecretPart::Secret(name) => {
                        let secret = secrets.secret(name).ok_or_else(|| Error::MissingSecret {
                            name: name.to_string(),
                        })?;
                        out.push_str(secret.expose());
                    }
                }
            }
            Ok(SecretString::new(out))
        }
        other => Ok(SecretString::new(text(other, "a credential")?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_base_and_path_with_one_slash() {
        assert_eq!(
            join("https://a.example/v1/", "/score"),
            "https://a.example/v1/score"
        );
        assert_eq!(
            join("https://a.example/v1", "score"),
            "https://a.example/v1/score"
        );
        assert_eq!(join("https://a.example/v1", ""), "https://a.example/v1");
    }
}
