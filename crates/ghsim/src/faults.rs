//! Fault injection, switchable at run time: added latency, and the next N requests failing
//! with a status, having their connection reset, or stalling forever.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// What `POST /_sim/faults` takes and `GET /_sim/faults` shows. Setting faults replaces the
/// previous settings; the `*_next` counters go down as requests consume them. When several are
/// pending, a request takes a reset first, then a stall, then a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API request before anything else happens (it holds the request in
    /// flight, which is how tests provoke the secondary limit).
    pub latency_ms: u64,
    /// The next N API requests answer `fail_status` without touching the model or limits.
    pub fail_next: u32,
    pub fail_status: u16,
    /// The next N API requests get their TCP connection closed (with RST) and no response.
    pub reset_next: u32,
    /// The next N API requests never get an answer. Each stays in flight until its client
    /// closes the connection (hyper then drops it) or the simulator shuts down.
    pub stall_next: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            fail_next: 0,
            fail_status: 500,
            reset_next: 0,
            stall_next: 0,
        }
    }
}

/// A fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Injected {
    Reset,
    Stall,
    Fail(StatusCode),
}

impl Faults {
    /// Rejects a status that cannot be sent.
    pub(crate) fn validate(&self) -> Result<(), String> {
        match StatusCode::from_u16(self.fail_status) {
            Ok(s) if s.as_u16() >= 200 => Ok(()),
            _ => Err(format!("fail_status {} is not a final HTTP status", self.fail_status)),
        }
    }

    /// Picks the fault for the next request, if any, and counts it down.
    pub(crate) fn take(&mut self) -> Option<Injected> {
        if self.reset_next > 0 {
            self.reset_next -= 1;
            Some(Injected::Reset)
        } else if self.stall_next > 0 {
            self.stall_next -= 1;
            Some(Injected::Stall)
        } else if self.fail_next > 0 {
            self.fail_next -= 1;
            Some(Injected::Fail(
                StatusCode::from_u16(self.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_run_down_in_order() {
        let mut f: Faults =
            serde_json::from_str(r#"{"fail_next": 1, "fail_status": 502, "reset_next": 1, "stall_next": 1}"#).unwrap();
        assert_eq!(f.take(), Some(Injected::Reset));
        assert_eq!(f.take(), Some(Injected::Stall));
        assert_eq!(f.take(), Some(Injected::Fail(StatusCode::BAD_GATEWAY)));
        assert_eq!(f.take(), None);
        assert!(
            Faults {
                fail_status: 42,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(serde_json::from_str::<Faults>(r#"{"nope": 1}"#).is_err());
    }
}
