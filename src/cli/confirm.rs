//! Before money moves: who acts (the audit actor) and the question. The plan is shown on
//! stderr, so `--json` keeps stdout for its one document; the answer is read with dialoguer.
//! Without a terminal on stdin the question cannot be asked, so only `--yes` lets a release or
//! refund go ahead: a script that forgot it moves nothing.

use std::io::IsTerminal;

use comfy_table::Table;
use dialoguer::Confirm;

use super::exit::{CliError, Exit};
use crate::service::Caller;
use crate::service::ErrorCode;

/// The actor written into the escrow history: `--actor`, else `cli:<OS user>@<host>`.
pub fn actor(given: Option<String>) -> String {
    given.unwrap_or_else(|| format!("cli:{}@{}", os_user(), host_name()))
}

/// The operator this run acts as (see [`actor`]).
pub fn operator(given: Option<String>) -> Caller {
    Caller::operator(actor(given))
}

fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn host_name() -> String {
    let from_files = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok());
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok());
    from_env
        .chain(from_files)
        .map(|h| h.trim().to_string())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Asks before `action` ("release", "refund"), showing `plan` on stderr. Called only without
/// `--yes`; refuses when there is no terminal to ask on.
pub fn confirm(action: &str, plan: &Table, question: &str) -> Result<(), CliError> {
    // The question is drawn on stderr and answered on stdin: both must be the terminal.
    let missing = if !std::io::stdin().is_terminal() {
        Some("stdin")
    } else if !std::io::stderr().is_terminal() {
        Some("stderr")
    } else {
        None
    };
    if let Some(stream) = missing {
        return Err(CliError::usage(
            ErrorCode::ConfirmationRequired,
            format!(
                "refusing to {action} without confirmation: {stream} is not a terminal; pass --yes to {action}. Nothing was moved"
            ),
        ));
    }
    eprintln!("{plan}");
    let answer = Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| CliError::new(Exit::Error, ErrorCode::ConfirmationFailed, e.to_string()))?;
    if answer {
        Ok(())
    } else {
        Err(CliError::new(
            Exit::Error,
            ErrorCode::ConfirmationDeclined,
            format!("{action} not confirmed. Nothing was moved"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_actor_wins_and_the_default_names_user_and_host() {
        assert_eq!(actor(Some("alice".into())), "alice");
        let d = actor(None);
        assert!(d.starts_with("cli:") && d.contains('@'), "{d}");
    }
}
