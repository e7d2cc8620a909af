//! `flowc emit NAME JSON`: an event emitted from outside, through a server's
//! admin API (`POST /api/v1/events/NAME`).
//!
//! The server checks that an active deployment declares the event and that the
//! payload has its type, stores it, and answers its id; the runs it starts (one
//! per `on event` workflow) and the waiting runs it wakes follow from the
//! store, so the command returns as soon as the event is stored.

use super::api::{self, Target, segment};
use super::{Exit, error, read_json_arg};
use reqwest::Method;
use serde_json::Value as Json;

pub const AFTER_HELP: &str = "\
Examples:
  flowc emit sku_reorder '{\"sku\": \"A-1\", \"quantity\": 50}'
  flowc emit sku_reorder @reorder.json          the payload from a file
  jq '.item' order.json | flowc emit sku_reorder -

Prints the stored event's id. The server is --server URL, FLOWC_SERVER or
http://127.0.0.1:8080; the admin token comes from --token-file FILE,
FLOWC_ADMIN_TOKEN or ./flowc.admin-token.

Exit status: 0 the event is stored, 1 the server refused (no active deployment
declares the event, a payload of the wrong type, a wrong token), 2 bad arguments
(a payload that is not JSON), no token, or the server cannot be reached.";

#[derive(clap::Args)]
pub struct Args {
    /// The event's name, as declared (`event NAME = …`).
    #[arg(value_name = "NAME")]
    name: String,

    /// The payload: JSON text, @FILE for a file, or - for standard input.
    #[arg(value_name = "JSON|@FILE|-")]
    payload: String,

    /// Print the API's JSON answer (`{"event_id": …}`).
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> anyhow::Result<Exit> {
    let payload = match read_json(&args.payload, "the payload") {
        Ok(payload) => payload,
        Err(message) => {
            error(message);
            return Ok(Exit::Failure);
        }
    };
    let path = format!("/events/{}", segment(&args.name));
    let answer = match api::call(&args.target, Method::POST, &path, Some(&payload))? {
        Ok(answer) => answer,
        Err(exit) => return Ok(exit),
    };
    if args.json {
        api::print(&answer)?;
    } else {
        println!(
            "{}",
            answer.get("event_id").and_then(Json::as_str).unwrap_or("?")
        );
    }
    Ok(Exit::Success)
}

/// JSON given as text, `@FILE` or `-` (standard input), parsed; the error
/// names `what` and where the text came from.
pub fn read_json(spec: &str, what: &str) -> Result<Json, String> {
    read_json_arg(spec, |from| match from {
        Some(from) => format!("{what} ({from})"),
        None => what.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_json_text_and_errors_name_what_was_read() {
        assert_eq!(
            read_json("{\"n\": 1}", "the payload"),
            Ok(serde_json::json!({ "n": 1 }))
        );
        let err = read_json("{n: 1}", "the payload");
        assert!(
            err.as_ref()
                .is_err_and(|err| err.starts_with("the payload is not valid JSON")),
            "{err:?}"
        );
        let err = read_json("@/no/such/file.json", "the payload");
        assert!(
            err.as_ref()
                .is_err_and(|err| err.starts_with("cannot read /no/such/file.json")),
            "{err:?}"
        );
    }
}
